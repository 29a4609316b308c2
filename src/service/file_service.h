// FileService: LIST, STAT, GET, PUT and DEL over the data store and its cache, for every door
// (the native protocol and HTTP). No sockets here: a session parses a request, calls the
// service, and streams what it returns.
//
// All calls may block on disk (stat, open, checksum of a file seen for the first time, fsync),
// so sessions run them off their event loop. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/cache.h"
#include "common/checksum.h"
#include "common/object_name.h"
#include "common/status.h"
#include "protocol/reply.h"
#include "service/hot_files.h"
#include "sim/trace_writer.h"
#include "store/store.h"

namespace ferry::service {

// Runs a job in the background (the server's blocking pool; inline in tests).
using BackgroundRunner = std::function<void(std::function<void()>)>;

// What a GET sends: `head.length` bytes from `offset`, of an open file or, for a file being
// copied into the cache right now, of that copy as it grows (follow `filling` until done).
struct Download {
  std::unique_ptr<store::ReadFile> file;
  std::shared_ptr<cache::FillProgress> filling;
  // With `filling`: opens the data store's file again if it still holds the version being
  // sent (else an error), so that a fill that fails (the cache's disk is full, ...) does not
  // cut the client: the rest comes from the store. Blocking.
  std::function<Result<std::unique_ptr<store::ReadFile>>()> reopen;
  std::uint64_t offset = 0;
  protocol::GetHead head;
  bool from_cache = false;  // a ready copy or a fill: the data store is not read for it
  bool cache_hit = false;   // the cache counted a hit (a ready copy, or another GET's fill)
};

// A file opened at its current version, its checksum known: what a door needs to answer a
// HEAD, a conditional GET or a range request before a byte of the body moves.
struct OpenedFile {
  ObjectName name;
  std::unique_ptr<store::ReadFile> file;
  protocol::FileEntry entry;  // name, size, mtime, checksum (`cached` is not looked up)
  std::uint64_t hot_epoch = 0;  // HotFiles::epoch() before it was opened
};

// An upload in progress. Destroying it without Commit leaves no trace (the client went away).
class Upload {
 public:
  // `max_bytes`: the announced size, or the server's upload limit when none was announced.
  Upload(std::unique_ptr<store::WriteFile> file, ObjectName name,
         std::optional<std::uint64_t> expected_size, std::uint64_t max_bytes,
         std::optional<Checksum> expected, bool replaces,
         std::function<void(const ObjectName&)> on_commit);
  // 413 past the announced size or the upload limit; nothing of the upload stays then.
  Status Append(std::string_view bytes);
  // Verifies size and checksum (422 on a mismatch, nothing replaced), then makes the file
  // durable and visible. The reply's checksum is in the client's algorithm, or xxh128.
  Result<protocol::PutDone> Commit();
  // Bytes received so far, including those a resumed upload found already there.
  std::uint64_t received() const { return received_; }
  // Hashes the bytes a resumed upload found already written (before any Append).
  Status HashResumedBytes(std::uint64_t bytes);
  // Whether a file of this name existed when the upload began (HTTP: 200 rather than 201).
  bool replaces() const { return replaces_; }

 private:
  std::unique_ptr<store::WriteFile> file_;
  ObjectName name_;
  std::optional<std::uint64_t> expected_size_;
  std::uint64_t max_bytes_;
  std::optional<Checksum> expected_;
  Hasher canonical_{ChecksumAlgo::kXxh128};
  std::optional<Hasher> requested_;  // the client's algorithm when it is not xxh128
  std::uint64_t received_ = 0;
  bool replaces_;
  std::function<void(const ObjectName&)> on_commit_;
};

struct ServiceOptions {
  sim::TraceWriter* trace = nullptr;  // if set, records every GET for ferry-sim
  std::uint64_t max_upload = 0;       // a PUT above it gets 413; 0: no limit (SetLimits)
  bool read_only = false;             // PUT and DEL get 403 (SetLimits)
  // HotFiles (hot_files.h): whole files of at most hot_max_object bytes kept in memory, up to
  // hot_max_bytes in all (0: none), each trusted for hot_validity.
  std::uint64_t hot_max_bytes = 0;
  std::uint64_t hot_max_object = 0;
  std::chrono::steady_clock::duration hot_validity = std::chrono::seconds(1);
};

class FileService {
 public:
  // `cache` may be null (no cache). `background` runs cache fills.
  FileService(store::Store& data, cache::Cache* cache, BackgroundRunner background,
              ServiceOptions options = {});

  Result<std::vector<protocol::FileEntry>> List(std::string_view prefix);
  Result<protocol::FileEntry> Stat(const ObjectName& name);
  // A GET of a hot small file, answered without touching the disk: its copy in memory, or null.
  // Cheap and non-blocking (a map lookup): for the event loop. Counts nothing; a door that
  // sends the copy calls RecordHotGet.
  std::shared_ptr<const HotFile> FindHot(const ObjectName& name);
  void RecordHotGet(const HotFile& file, std::uint64_t bytes);
  // The first half of a GET (and all of a HEAD): opens the current version, learns its
  // checksum. No cache traffic, nothing recorded.
  Result<OpenedFile> Open(const ObjectName& name);
  // The second half: serves a range of the opened version. GET: from the cache if it holds the current version. On a miss, a whole-file GET starts
  // a fill and follows it (and so do concurrent GETs of the file: the data store is read
  // once); a ranged GET is served from the data store while a fill runs in the background.
  // 416 if offset > size; length is cut at the end.
  Result<Download> Get(OpenedFile opened, std::uint64_t offset,
                       std::optional<std::uint64_t> length);
  Result<Download> Get(const ObjectName& name, std::uint64_t offset,
                       std::optional<std::uint64_t> length);
  // PUT: `size` nullopt means "until the client half-closes". 413 if `size` is above the
  // upload limit. A `resumable` PUT (size and checksum required) continues the bytes an
  // interrupted upload of the same name, size and checksum left (Upload::received() tells how
  // many), and leaves its own for the next try if it is interrupted too.
  Result<std::unique_ptr<Upload>> Put(const ObjectName& name, std::optional<std::uint64_t> size,
                                      std::optional<Checksum> expected, bool resumable = false);
  Status Delete(const ObjectName& name);
  // Changes max_upload and read_only (a reload); requests that began keep the old ones.
  void SetLimits(std::uint64_t max_upload, bool read_only);
  // STATS: the cache's counters (all zero without a cache), in a stable order.
  std::vector<protocol::StatValue> Stats();

 private:
  // The checksum of the version `file` holds: remembered, or computed once and remembered.
  Result<Checksum> ChecksumOf(store::ReadFile& file);
  // Download::reopen for a GET that follows a fill of `name` at `checksum`: made only for
  // those, so a GET served otherwise copies no name.
  std::function<Result<std::unique_ptr<store::ReadFile>>()> Reopener(const ObjectName& name,
                                                                    const Checksum& checksum);
  // Runs a pending fill in the background, reading `source` (or the data file anew).
  void RunFillInBackground(std::unique_ptr<cache::PendingFill> pending,
                           std::unique_ptr<store::ReadFile> source);

  // Keeps a copy of a small file a GET is about to send, if HotFiles wants it.
  void OfferHot(const OpenedFile& opened, store::ReadFile& file);

  store::Store& data_;
  cache::Cache* cache_;
  BackgroundRunner background_;
  ServiceOptions options_;
  std::atomic<std::uint64_t> max_upload_;
  std::atomic<bool> read_only_;
  HotFiles hot_;
  std::atomic<std::uint64_t> hot_hits_{0};
};

}  // namespace ferry::service
