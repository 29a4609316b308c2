#include "cache/cache.h"

#include <vector>

#include <fmt/format.h>

namespace ferry::cache {

Cache::Cache(std::unique_ptr<store::Store> folder) : folder_(std::move(folder)) {}

std::unique_ptr<store::ReadFile> Cache::Lookup(const ObjectName& name, const Checksum& checksum) {
  Result<std::unique_ptr<store::ReadFile>> copy = folder_->OpenRead(name);
  if (!copy.ok()) return nullptr;
  std::optional<Checksum> remembered = folder_->RememberedChecksum(**copy);
  if (!remembered || *remembered != checksum) return nullptr;
  return std::move(*copy);
}

Status Cache::Fill(const ObjectName& name, store::ReadFile& source, const Checksum& checksum) {
  {
    std::lock_guard lock(mutex_);
    if (!filling_.insert(name.str()).second) return Status::Ok();
  }
  struct Done {
    Cache& cache;
    const std::string& name;
    ~Done() {
      std::lock_guard lock(cache.mutex_);
      cache.filling_.erase(name);
    }
  } done{*this, name.str()};

  Result<std::unique_ptr<store::WriteFile>> copy = folder_->BeginWrite(name);
  if (!copy.ok()) return copy.status();
  std::vector<char> buffer(1 << 20);
  Hasher hasher(checksum.algo);
  std::uint64_t offset = 0;
  while (offset < source.version().size) {
    Result<std::size_t> got = source.ReadAt(offset, buffer);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    std::string_view bytes(buffer.data(), *got);
    hasher.Update(bytes);
    if (Status s = (*copy)->Append(bytes); !s.ok()) return s;
    offset += *got;
  }
  if (offset != source.version().size || hasher.Finish() != checksum) {
    return Status::Conflict(fmt::format("{} changed while it was copied to the cache", name.str()));
  }
  Result<store::FileVersion> committed = (*copy)->Commit(checksum);
  return committed.status();
}

void Cache::Invalidate(const ObjectName& name) { (void)folder_->Remove(name); }

std::set<std::string> Cache::CachedNames(std::string_view prefix) {
  std::set<std::string> names;
  Result<std::vector<store::StoredFile>> files = folder_->List(prefix);
  if (files.ok()) {
    for (store::StoredFile& file : *files) names.insert(std::move(file.name));
  }
  return names;
}

}  // namespace ferry::cache
