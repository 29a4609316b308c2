// Store: where the bytes of files live. One interface, several backends: a local directory
// (OpenLocalStore) and an S3 bucket (OpenS3Store). The protocol code sees only this interface.
//
// Contract for every backend:
//   - names are ObjectNames (already validated); nothing outside the store's root is reached;
//   - a WriteFile is invisible until Commit, which replaces the previous version atomically:
//     a reader sees the old bytes or the new ones, never a mix, and an abandoned or failed
//     write leaves nothing behind (except a resumable write: its bytes wait, privately, for
//     the upload to continue, until they expire);
//   - a ReadFile keeps reading the version it opened even if the name is replaced meanwhile.
// Stores are thread-safe; a ReadFile or WriteFile belongs to one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/checksum.h"
#include "common/object_name.h"
#include "common/status.h"

namespace ferry::store {

// What identifies one version of a file: any change of content through the file system
// (replace, rewrite, append) changes it.
struct FileVersion {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
  // What the file occupies on disk (allocated blocks): what a bounded cache must count.
  // Not part of the identity.
  std::uint64_t allocated_bytes = 0;

  std::int64_t mtime_seconds() const { return mtime_ns / 1'000'000'000; }
  friend bool operator==(const FileVersion& a, const FileVersion& b) {
    return a.size == b.size && a.mtime_ns == b.mtime_ns && a.inode == b.inode &&
           a.device == b.device;
  }
};

struct StoredFile {
  std::string name;
  FileVersion version;
};

class ReadFile {
 public:
  virtual ~ReadFile() = default;
  virtual const FileVersion& version() const = 0;
  // A descriptor for zero-copy sends (sendfile), or -1 when the store is not file-backed.
  virtual int fd() const = 0;
  // Up to out.size() bytes from `offset`; 0 only at the end of the file.
  virtual Result<std::size_t> ReadAt(std::uint64_t offset, std::span<char> out) = 0;
};

class WriteFile {
 public:
  // Without a successful Commit, destroying a WriteFile removes every trace of it, unless it
  // is resumable: then its bytes stay for a later BeginWrite with the same key.
  virtual ~WriteFile() = default;
  virtual Status Append(std::string_view bytes) = 0;
  // Bytes a resumable write found already written (Append continues after them); else 0.
  virtual std::uint64_t resumed() const { return 0; }
  // Drops a resumable write's bytes too (they turned out wrong): nothing stays.
  virtual void Discard() {}
  // A descriptor that reads what has been appended so far (readers follow a cache fill as it
  // grows, and keep reading the file after Commit renames it), or -1 where the store is not
  // file-backed. Owned by the WriteFile: dup it to keep it longer.
  virtual int fd() const { return -1; }
  // Makes the written bytes durable and visible under the name (replacing any previous
  // version atomically), remembering `checksum` as theirs. At most one call.
  virtual Result<FileVersion> Commit(const Checksum& checksum) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<FileVersion> Stat(const ObjectName& name) = 0;
  // Every file whose name starts with `prefix` (a plain string prefix, as in S3), by name.
  virtual Result<std::vector<StoredFile>> List(std::string_view prefix) = 0;
  virtual Result<std::unique_ptr<ReadFile>> OpenRead(const ObjectName& name) = 0;
  // 409 if the name is a folder; 403 if a folder on the way is a file or leads outside.
  // A non-empty `resume_key` (letters and digits, from the name, size and checksum of the
  // upload) makes the write resumable: it continues what an interrupted write with the same
  // key left, and 409 while another writer holds that key. `announced`: the xxh128 checksum
  // the writer promised (the caller verifies it before Commit), which a store may record
  // before the bytes arrive.
  virtual Result<std::unique_ptr<WriteFile>> BeginWrite(
      const ObjectName& name, std::string_view resume_key = {},
      const std::optional<Checksum>& announced = std::nullopt) = 0;
  // Removes resumable writes untouched for `max_age` (not those in progress).
  virtual void ExpirePartials(std::chrono::seconds max_age) { (void)max_age; }
  virtual Status Remove(const ObjectName& name) = 0;
  // OK if `bytes` more can be written and still leave the store's free-space reserve; else
  // 507. A store without a notion of free space (an object store) always says OK.
  virtual Status Reserve(std::uint64_t bytes) {
    (void)bytes;
    return Status::Ok();
  }

  // Counters of the store's own traffic, for STATS and /metrics ("store_get_requests", ...).
  // A local folder has none.
  virtual std::vector<std::pair<std::string, std::uint64_t>> Counters() { return {}; }

  // The checksum remembered for exactly the version `file` holds (in `algo`), or nullopt.
  virtual std::optional<Checksum> RememberedChecksum(ReadFile& file) = 0;
  // Remembers `checksum` for the version `file` holds, for later RememberedChecksum calls.
  virtual void RememberChecksum(ReadFile& file, const Checksum& checksum) = 0;
};

struct LocalStoreOptions {
  std::filesystem::path root;  // created if missing
  // fsync file and folder on Commit. Off for the cache: its files can always be refetched.
  bool durable = true;
  // Writes that would leave less free space than this get 507: before the first byte when
  // the size is announced, and as they grow. 0: only a full disk refuses.
  std::uint64_t min_free = 0;
};

// A store in a local directory. Private state lives in ROOT/.ferry/, which names cannot reach:
// tmp/ for writes in progress (leftovers of an earlier run are removed here) and partial/ for
// resumable writes (kept across restarts; ExpirePartials removes old ones).
Result<std::unique_ptr<Store>> OpenLocalStore(const LocalStoreOptions& options);

struct S3StoreOptions {
  std::string url;       // s3://BUCKET[/PREFIX]
  std::string endpoint;  // http://127.0.0.1:7480, https://s3.eu-west-1.amazonaws.com
  std::string region = "us-east-1";
  // Empty: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, else the shared credentials file
  // (`credentials_file`, else AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials), profile
  // AWS_PROFILE or "default".
  std::string access_key;
  std::string secret_key;
  std::filesystem::path credentials_file;
  // What is known of a name (exists, ETag, checksum) is trusted this long, then checked with a
  // conditional HEAD: the bound on how stale a change made by another writer can be.
  std::chrono::seconds revalidate_after{30};
  // Uploads up to one part are a single PUT; larger ones multipart, `parallel_parts` parts in
  // flight (each upload holds at most parallel_parts + 1 parts in memory).
  std::uint64_t part_size = 8 << 20;
  unsigned parallel_parts = 4;
  // A request that moves no byte this long is abandoned and retried (then 503).
  std::chrono::seconds stall_timeout{30};
  std::size_t max_known = 100'000;  // names whose state is remembered
};

// A store in an S3 bucket (s3_store.cc; docs/scale-out.md): path-style requests signed with
// SigV4. Opening it asks nothing of the store.
Result<std::unique_ptr<Store>> OpenS3Store(const S3StoreOptions& options);

}  // namespace ferry::store
