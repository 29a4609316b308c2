// Cache: a folder on fast storage holding copies of files from the data store.
//
// This is the original design's cache, made safe: a GET miss copies the file in the
// background, a PUT replaces the copy. A copy is served only if its remembered checksum is the
// data file's current one, so a copy never outlives a change of the file. Fills go through the
// cache folder's own Store, so they are atomic (temporary file, rename) and leftovers of
// interrupted fills are removed at start.
//
// Not bounded yet: the byte-bounded, evicting cache with policies is its own issue.
// Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/checksum.h"
#include "common/object_name.h"
#include "common/status.h"
#include "store/store.h"

namespace ferry::cache {

class Cache {
 public:
  explicit Cache(std::unique_ptr<store::Store> folder);

  // The cached copy of `name` if it holds the bytes whose checksum is `checksum`; else nullptr.
  std::unique_ptr<store::ReadFile> Lookup(const ObjectName& name, const Checksum& checksum);

  // Copies `source` (whose checksum is `checksum`) into the cache, verifying the bytes as they
  // are copied. Blocking: run it off the event loop. Returns at once, OK, if a fill of `name`
  // is already in progress (one fill per name).
  Status Fill(const ObjectName& name, store::ReadFile& source, const Checksum& checksum);

  // Drops the copy of `name`, if any.
  void Invalidate(const ObjectName& name);

  // Names of cached files starting with `prefix`, sorted.
  std::set<std::string> CachedNames(std::string_view prefix);

 private:
  std::unique_ptr<store::Store> folder_;
  std::mutex mutex_;
  std::set<std::string> filling_;  // GUARDED_BY(mutex_)
};

}  // namespace ferry::cache
