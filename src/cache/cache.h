// Cache: a byte-bounded folder on fast storage holding copies of hot files from the data
// store, with a pluggable eviction policy (policy.h, docs/cache.md).
//
// Invariants:
//   - the bytes the folder holds (allocated blocks of ready copies, plus reservations of fills
//     in progress) never exceed max_bytes: a fill reserves its size before writing a byte;
//   - a copy is served only if its remembered checksum is the data file's current one, so a
//     copy never outlives a change of the file, whatever order a PUT and a fill race in;
//   - eviction only unlinks: a reader that has the file open keeps reading its bytes;
//   - files larger than max_object are never cached (served straight from the data store).
// Fills go through the folder's own Store, so they are atomic, and leftovers of interrupted
// fills are removed at start. Thread-safe; no lock is held across disk I/O.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

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
};

struct CacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t bytes_from_cache = 0;
  std::uint64_t bytes_from_store = 0;
  std::uint64_t evictions = 0;
  std::uint64_t bypassed = 0;  // fills refused: larger than max_object, or no room
  std::uint64_t bytes_cached = 0;
  std::uint64_t files_cached = 0;
  std::uint64_t fills_in_flight = 0;
  std::uint64_t max_bytes = 0;
};

class Cache {
 public:
  // Indexes what `folder` already holds (copies without a remembered checksum are dropped)
  // and evicts down to the limit if it shrank. 400 for an unknown policy name.
  static Result<std::unique_ptr<Cache>> Open(std::unique_ptr<store::Store> folder,
                                             const CacheOptions& options);

  // The cached copy of `name` if it holds the bytes whose checksum is `checksum` (a hit for
  // the policy); else nullptr.
  std::unique_ptr<store::ReadFile> Lookup(const ObjectName& name, const Checksum& checksum);

  // Copies `source` (whose checksum is `checksum`) into the cache, verifying the bytes as they
  // are copied. Blocking: run it off the event loop. OK without copying when the file is too
  // large, already cached or being filled, or no room can be made (fills hold it all).
  Status Fill(const ObjectName& name, store::ReadFile& source, const Checksum& checksum);

  // Drops the copy of `name`, if any; a fill in progress for it is discarded when it ends.
  void Invalidate(const ObjectName& name);

  // Names of cached files starting with `prefix`.
  std::set<std::string> CachedNames(std::string_view prefix);

  // Counts a GET served (from the cache or from the data store) for STATS.
  void RecordServed(bool from_cache, std::uint64_t bytes);
  CacheStats Stats();

  std::uint64_t max_object() const { return max_object_; }

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
  };

  // A copy to unlink once the lock is released; its bytes stay counted until then.
  struct Victim {
    std::string name;
    std::uint64_t bytes;
  };

  Cache(std::unique_ptr<store::Store> folder, const CacheOptions& options,
        std::unique_ptr<EvictionPolicy> policy);
  // Evicts until `needed` more bytes fit; appends the evicted copies to `victims`. False if
  // even evicting every ready copy leaves too little room. REQUIRES: mutex_ held.
  bool MakeRoom(std::uint64_t needed, std::vector<Victim>& victims);
  // Drops a ready entry from the index and the policy; its copy becomes a victim.
  // REQUIRES: mutex_ held; `entry` is ready.
  Victim ForgetReady(const std::string& name, Entry& entry);
  // The same for an entry the policy has already let go (EvictOne).
  Victim ForgetReadyEvicted(const std::string& name, Entry& entry);
  // Makes the filled `entry` ready and known to the policy. REQUIRES: mutex_ held.
  void AddReady(const std::string& name, Entry& entry, std::uint64_t allocated);
  // Copies `source` into the folder as `name`. No lock held.
  Result<store::FileVersion> Copy(const ObjectName& name, store::ReadFile& source,
                                  const Checksum& checksum);
  // Unlinks the victims' copies, then stops counting their bytes. REQUIRES: mutex_ not held.
  void Unlink(const std::vector<Victim>& victims);

  std::unique_ptr<store::Store> folder_;
  std::atomic<bool> stopping_{false};
  const std::uint64_t max_bytes_;
  const std::uint64_t max_object_;

  std::mutex mutex_;
  std::unique_ptr<EvictionPolicy> policy_;             // GUARDED_BY(mutex_)
  std::unordered_map<std::string, Entry> entries_;     // GUARDED_BY(mutex_)
  std::vector<std::string> names_by_key_;              // GUARDED_BY(mutex_)
  std::vector<Key> free_keys_;                         // GUARDED_BY(mutex_)
  // Bytes the folder may hold right now: ready copies, reservations of fills, and victims not
  // unlinked yet. Never above max_bytes_. GUARDED_BY(mutex_)
  std::uint64_t used_ = 0;
  std::uint64_t ready_files_ = 0;                      // GUARDED_BY(mutex_)
  std::uint64_t ready_bytes_ = 0;                      // GUARDED_BY(mutex_)
  CacheStats stats_;                                   // GUARDED_BY(mutex_)
};

}  // namespace ferry::cache
