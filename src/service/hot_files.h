// HotFiles: whole copies in memory of small files that were just served, so that a GET of a hot
// small file costs no open, no stat and no trip to the blocking pool: the session answers it on
// its event loop, head and body in one write. Byte-bounded, least recently used out first.
//
// Freshness: PUT and DEL through ferryd forget the name at once. A change made behind ferryd's
// back (another program writing the data folder) is seen when the entry expires: each entry is
// trusted for `validity` (1 s in ferryd), then the next GET goes the ordinary way, which reads
// the file again. nginx's open_file_cache_valid makes the same trade. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocol/reply.h"

namespace ferry::service {

struct HotFile {
  protocol::FileEntry entry;  // name, size, mtime, checksum
  std::string bytes;          // all of them
  std::string get_head;       // the native reply head of a whole-file GET, encoded once
  std::chrono::steady_clock::time_point loaded;
};

class HotFiles {
 public:
  using Clock = std::chrono::steady_clock;

  HotFiles(std::uint64_t max_bytes, std::uint64_t max_object, Clock::duration validity);

  // What an entry costs beyond its bytes (its name twice, list and map nodes): charged too, so
  // that many empty files cannot grow the tier without bound.
  static constexpr std::uint64_t kEntryOverhead = 256;

  // Whether a file of `size` bytes is kept (max_bytes 0: none is).
  // (Never with a validity of 0: a copy that may not be served is not worth making.)
  bool Wants(std::uint64_t size) const {
    return max_bytes_ > 0 && size <= max_object_ && validity_ > Clock::duration::zero();
  }
  // The entry of `name` if it is still valid at `now`; an expired one is dropped.
  std::shared_ptr<const HotFile> Find(std::string_view name, Clock::time_point now);
  // A count of Forget calls. A reader takes it before it opens a file, and gives it to Insert:
  // a copy read before a PUT or DEL forgot its name is then not kept (it may be the old version).
  std::uint64_t epoch() const;
  // Keeps `file` (replacing an entry of its name), evicting the least recently used as needed,
  // unless something was forgotten since `epoch`.
  void Insert(std::shared_ptr<const HotFile> file, std::uint64_t epoch);
  void Forget(std::string_view name);

  std::uint64_t bytes() const;  // what the entries cost, kEntryOverhead included
  std::size_t count() const;

 private:
  using Entries = std::list<std::shared_ptr<const HotFile>>;  // most recently used first
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  void EraseLocked(Entries::iterator it);

  const std::uint64_t max_bytes_;
  const std::uint64_t max_object_;
  const Clock::duration validity_;
  mutable std::mutex mutex_;
  Entries entries_;                                                                    // GUARDED_BY(mutex_)
  std::unordered_map<std::string, Entries::iterator, NameHash, std::equal_to<>> by_name_;  // GUARDED_BY(mutex_)
  std::uint64_t bytes_ = 0;                                                            // GUARDED_BY(mutex_)
  std::uint64_t epoch_ = 0;                                                            // GUARDED_BY(mutex_)
};

}  // namespace ferry::service
