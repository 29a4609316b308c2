// Cache: a byte-bounded folder on fast storage holding copies of hot files from the data
// store, with a pluggable eviction policy (policy.h, docs/cache.md).
//
// Invariants:
//   - the bytes the folder's copies hold (allocated blocks of ready copies with their
//     checksum xattrs, plus reservations of fills in progress) never exceed max_bytes: a fill
//     reserves its size before writing a byte. The index beside them (.ferry/index and
//     journal, about 100 B a copy) is bookkeeping outside the limit, as nginx's keys zone is;
//   - a copy is served only if its remembered checksum is the data file's current one, so a
//     copy never outlives a change of the file, whatever order a PUT and a fill race in;
//   - eviction only unlinks: a reader that has the file open keeps reading its bytes;
//   - files larger than max_object are never cached (served straight from the data store).
// Fills go through the folder's own Store, so they are atomic, and leftovers of interrupted
// fills are removed at start. Thread-safe; no lock is held across disk I/O.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/index_file.h"
#include "cache/policy.h"
#include "common/checksum.h"
#include "common/object_name.h"
#include "common/status.h"
#include "store/store.h"

namespace ferry::cache {

struct CacheOptions {
  std::uint64_t max_bytes = std::uint64_t{1} << 30;  // --cache-max-bytes
  std::uint64_t max_object = 0;                      // --cache-max-object; 0: max_bytes / 8
  std::string policy = "s3fifo";                     // --cache-policy
  // Where the index lives (a snapshot and a journal, index_file.h), so that a restart, clean
  // or not, needs no scan of the folder. Empty: no index, every start scans.
  std::filesystem::path state_dir;
};

// A fill in progress, which readers follow as it grows (read-while-write): every concurrent
// GET of a cold file streams from the one copy being made, so the data store is read once.
// Thread-safe.
class FillProgress {
 public:
  FillProgress() = default;
  ~FillProgress();
  FillProgress(const FillProgress&) = delete;
  FillProgress& operator=(const FillProgress&) = delete;

  // Reads the copy: bytes [0, written) are final (pread, sendfile). Owned by this object.
  // Valid once state().written > 0 (the filler sets it before writing a byte).
  int fd() const;

  struct State {
    std::uint64_t written = 0;
    bool done = false;
    Status status;  // once done: OK, or why the fill failed (then the copy is incomplete)
  };
  State state() const;
  // Calls `wake` once, from any thread, when more than `seen` bytes are written or the fill is
  // done (at once if that is already so). `wake` must not call back into this object.
  void OnProgress(std::uint64_t seen, std::function<void()> wake);

  // For the filler. SetFd takes ownership.
  void SetFd(int fd);
  void Advance(std::uint64_t written);
  void Finish(Status status);

 private:
  void WakeUp(std::vector<std::function<void()>>& ready);  // REQUIRES: mutex_ held

  mutable std::mutex mutex_;
  int fd_ = -1;                                                           // GUARDED_BY(mutex_)
  State state_;                                                           // GUARDED_BY(mutex_)
  std::vector<std::pair<std::uint64_t, std::function<void()>>> waiters_;  // GUARDED_BY(mutex_)
};

struct CacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t bytes_from_cache = 0;
  std::uint64_t bytes_from_store = 0;
  std::uint64_t store_bytes_read = 0;  // sent from the data store, plus read by fills
  std::uint64_t evictions = 0;
  std::uint64_t bypassed = 0;  // fills refused: larger than max_object, or no room
  std::uint64_t bytes_cached = 0;
  std::uint64_t files_cached = 0;
  std::uint64_t fills_in_flight = 0;
  std::uint64_t max_bytes = 0;
};

// What BeginFill reserved and RunFill completes.
struct PendingFill {
  std::string name;
  Checksum checksum;
  std::shared_ptr<FillProgress> progress;
  std::unique_ptr<store::WriteFile> writer;
};

// What Lookup found: a ready copy, a fill in progress to follow, or neither.
struct CacheLookup {
  std::unique_ptr<store::ReadFile> copy;
  std::shared_ptr<FillProgress> filling;
};

class Cache {
 public:
  ~Cache();
  // Indexes what `folder` already holds and evicts down to the limit if it shrank: from the
  // snapshot and journal in state_dir if there are any (each copy checked with a stat or its
  // checksum xattr, replayed into the policy least recently used first, hit counts kept), else
  // by a scan of the folder. Then writes a fresh snapshot and starts an empty journal.
  // 400 for an unknown policy name; 500 if the journal cannot be opened.
  static Result<std::unique_ptr<Cache>> Open(std::unique_ptr<store::Store> folder,
                                             const CacheOptions& options);

  // The cached copy of `name` if it holds the bytes whose checksum is `checksum` (a hit for
  // the policy); else the fill of those bytes in progress, if any.
  CacheLookup Lookup(const ObjectName& name, const Checksum& checksum);

  // Reserves room for a copy of `name` (`size` bytes with `checksum`) and opens it. nullptr
  // when it is not to be cached: too large, already cached or being filled, no room (fills
  // in progress hold it all). Blocking (it may unlink victims).
  std::unique_ptr<PendingFill> BeginFill(const ObjectName& name, std::uint64_t size,
                                         const Checksum& checksum);
  // Copies `source` into the pending fill, verifying the bytes as they are copied, and wakes
  // every follower as it goes and when it ends. Blocking: run it off the event loop.
  Status RunFill(std::unique_ptr<PendingFill> pending, store::ReadFile& source);
  // Gives up a pending fill without copying: its room is released, followers get `why`.
  void CancelFill(std::unique_ptr<PendingFill> pending, Status why);
  // BeginFill and RunFill in one call.
  Status Fill(const ObjectName& name, store::ReadFile& source, const Checksum& checksum);

  // Drops the copy of `name`, if any; a fill in progress for it is discarded when it ends.
  void Invalidate(const ObjectName& name);

  // Whether a ready copy of exactly these bytes is indexed. Not an access: the policy does not
  // see it (STAT and LIST must not make a file look hot).
  bool Contains(const ObjectName& name, const Checksum& checksum);

  // Names of cached files starting with `prefix`.
  std::set<std::string> CachedNames(std::string_view prefix);

  // Counts a GET for STATS: a hit (a ready copy, or a fill another GET started) or a miss, and
  // where its bytes came from (a cache file, ready or filling, or the data store).
  void RecordServed(bool hit, bool from_cache_file, std::uint64_t bytes);
  CacheStats Stats();

  // Writes a snapshot of the index and empties the journal (compaction). Done at start, when
  // the journal outgrows the snapshot (cache.cc: kMinJournalBytes), and at a clean stop.
  Status SaveIndex();

  std::uint64_t max_object() const { return max_object_.load(std::memory_order_relaxed); }

  // New limits (a reload): a smaller max_bytes evicts ready copies down to it at once; fills
  // in progress keep their reservations and finish. max_object 0: max_bytes / 8.
  void Resize(std::uint64_t max_bytes, std::uint64_t max_object);

  // The server is stopping: fills in progress give up at their next chunk, new ones do not
  // start, so shutdown does not wait for large copies.
  void Shutdown() { stopping_.store(true); }

 private:
  struct Entry {
    Key key = 0;
    std::uint64_t bytes = 0;  // allocated on disk (ready) or reserved (filling)
    Checksum checksum;
    bool ready = false;
    bool abandoned = false;  // filling, but invalidated: the fill discards its copy
    std::shared_ptr<FillProgress> progress;  // while filling
    store::FileVersion version;              // of the copy, once ready: the saved index's check
    std::uint64_t last_access = 0;           // order of the last insert or hit
    std::uint8_t hits = 0;                   // hits since insert, capped (saved index)
    bool journaled = false;                  // filling, and its "A" record is written
  };

  // A copy to unlink once the lock is released; its bytes stay counted until then.
  struct Victim {
    std::string name;
    std::uint64_t bytes;
  };

  Cache(std::unique_ptr<store::Store> folder, const CacheOptions& options,
        std::unique_ptr<EvictionPolicy> policy);
  // Evicts until `needed` more bytes fit under `limit` (default: max_bytes_); appends the
  // evicted copies to `victims`. False if even evicting every ready copy leaves too little
  // room. REQUIRES: mutex_ held.
  bool MakeRoom(std::uint64_t needed, std::vector<Victim>& victims, std::uint64_t limit = 0);
  // Drops a ready entry from the index and the policy; its copy becomes a victim.
  // REQUIRES: mutex_ held; `entry` is ready.
  Victim ForgetReady(const std::string& name, Entry& entry);
  // The same for an entry the policy has already let go (EvictOne).
  Victim ForgetReadyEvicted(const std::string& name, Entry& entry);
  // Makes the filled `entry` ready and known to the policy. REQUIRES: mutex_ held.
  void AddReady(const std::string& name, Entry& entry, const store::FileVersion& version);
  // Rebuilds the index from the snapshot and journal (true), or reports there are none.
  bool LoadIndex(std::vector<Victim>& dropped);
  void Scan(std::vector<Victim>& dropped);
  // Verifies a saved copy against the folder and admits it (or drops it). `trust_version`:
  // the saved file identity is known (snapshot); else the checksum xattr decides (journal).
  void Admit(const SavedCopy& saved, bool trust_version, std::vector<Victim>& dropped);
  // Appends journal records. REQUIRES: journal_mutex_ held.
  Status AppendJournal(std::string_view records);
  // Writes the "A" record of a fill and syncs it, before the copy is renamed into place.
  Status JournalAdded(const PendingFill& pending);
  // Makes a finished fill's copy ready (status OK) or removes it, then wakes its followers.
  void Finalize(PendingFill& pending, Status status, const store::FileVersion& version = {});
  // Copies `source` into the pending fill and commits it. No lock held.
  Result<store::FileVersion> Copy(PendingFill& pending, store::ReadFile& source);
  // Unlinks the victims' copies, then stops counting their bytes. REQUIRES: mutex_ not held.
  void Unlink(const std::vector<Victim>& victims);

  std::unique_ptr<store::Store> folder_;
  const std::filesystem::path state_dir_;
  std::atomic<bool> stopping_{false};

  // Lock order: journal_mutex_, then mutex_.
  std::mutex journal_mutex_;
  int journal_fd_ = -1;               // GUARDED_BY(journal_mutex_); -1: no index
  std::uint64_t journal_bytes_ = 0;   // GUARDED_BY(journal_mutex_)
  std::atomic<std::uint64_t> max_object_;

  std::mutex mutex_;
  std::uint64_t max_bytes_;                            // GUARDED_BY(mutex_)
  std::unique_ptr<EvictionPolicy> policy_;             // GUARDED_BY(mutex_)
  std::unordered_map<std::string, Entry> entries_;     // GUARDED_BY(mutex_)
  std::vector<std::string> names_by_key_;              // GUARDED_BY(mutex_)
  std::vector<Key> free_keys_;                         // GUARDED_BY(mutex_)
  // Bytes the folder may hold right now: ready copies, reservations of fills, and victims not
  // unlinked yet. Never above max_bytes_. GUARDED_BY(mutex_)
  std::uint64_t used_ = 0;
  std::uint64_t ready_files_ = 0;                      // GUARDED_BY(mutex_)
  std::uint64_t ready_bytes_ = 0;                      // GUARDED_BY(mutex_)
  std::uint64_t access_clock_ = 0;                     // GUARDED_BY(mutex_)
  CacheStats stats_;                                   // GUARDED_BY(mutex_)
  // A fill that found the folder's disk full (ENOSPC, quota) pauses admissions until then:
  // every GET would otherwise start a copy that fails halfway. GUARDED_BY(mutex_)
  std::chrono::steady_clock::time_point disk_full_until_{};
  // Names whose evicted copy is still to be unlinked and journaled as removed. No fill of such
  // a name starts until then: its "A" record could land in the journal before the old copy's
  // "E", and a replay after a crash would forget the new copy, left on disk uncounted.
  // GUARDED_BY(mutex_)
  std::unordered_map<std::string, int> unlinking_;
};

}  // namespace ferry::cache
