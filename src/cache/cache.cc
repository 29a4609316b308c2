#include "cache/cache.h"

#include <spdlog/spdlog.h>

#include <fmt/format.h>

namespace ferry::cache {
namespace {

constexpr std::uint64_t kBlock = 4096;

// What a file of `size` bytes will occupy, before it exists: whole blocks.
std::uint64_t Reservation(std::uint64_t size) { return (size + kBlock - 1) / kBlock * kBlock; }

}  // namespace

Result<std::unique_ptr<Cache>> Cache::Open(std::unique_ptr<store::Store> folder,
                                           const CacheOptions& options) {
  auto policy = MakePolicy(options.policy, {.capacity_bytes = options.max_bytes});
  if (!policy) return Status::BadRequest(fmt::format("unknown cache policy '{}'", options.policy));
  std::unique_ptr<Cache> cache(new Cache(std::move(folder), options, std::move(policy)));
  // Rebuild the index from the folder. (Recency is not kept across restarts yet: the copies
  // enter the policy in name order.)
  auto files = cache->folder_->List("");
  if (!files.ok()) return files.status();
  std::vector<std::string> dropped;
  std::lock_guard lock(cache->mutex_);
  for (store::StoredFile& file : *files) {
    auto name = ObjectName::FromDecoded(file.name);
    auto opened = name.ok() ? cache->folder_->OpenRead(*name)
                            : Result<std::unique_ptr<store::ReadFile>>(name.status());
    std::optional<Checksum> checksum;
    if (opened.ok()) checksum = cache->folder_->RememberedChecksum(**opened);
    if (!checksum || file.version.size > cache->max_object_) {
      dropped.push_back(file.name);  // an unverifiable or oversized copy is worth nothing
      continue;
    }
    std::vector<std::string> victims;
    std::uint64_t bytes = std::max(file.version.allocated_bytes, Reservation(file.version.size));
    if (!cache->MakeRoom(bytes, victims)) {
      dropped.push_back(file.name);
      continue;
    }
    dropped.insert(dropped.end(), victims.begin(), victims.end());
    Entry& entry = cache->entries_[file.name];
    entry.checksum = *checksum;
    cache->AddReady(file.name, entry, bytes);
  }
  cache->stats_.evictions = 0;  // shrinking at start is not traffic
  if (!dropped.empty()) spdlog::info("cache: dropped {} copies at start", dropped.size());
  cache->Unlink(dropped);
  return cache;
}

Cache::Cache(std::unique_ptr<store::Store> folder, const CacheOptions& options,
             std::unique_ptr<EvictionPolicy> policy)
    : folder_(std::move(folder)),
      max_bytes_(options.max_bytes),
      max_object_(options.max_object != 0 ? options.max_object : options.max_bytes / 8),
      policy_(std::move(policy)) {}

std::unique_ptr<store::ReadFile> Cache::Lookup(const ObjectName& name, const Checksum& checksum) {
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name.str());
    if (it == entries_.end() || !it->second.ready || it->second.checksum != checksum) {
      return nullptr;
    }
    policy_->OnHit(it->second.key);
  }
  // The copy may be evicted or replaced between the index and the open: verify what we got.
  auto copy = folder_->OpenRead(name);
  std::optional<Checksum> remembered;
  if (copy.ok()) remembered = folder_->RememberedChecksum(**copy);
  if (remembered && *remembered == checksum) return std::move(*copy);
  // The file under a ready entry is gone or another version (a fill invalidated midway
  // renamed over it): the entry is worth nothing.
  std::lock_guard lock(mutex_);
  auto it = entries_.find(name.str());
  if (it != entries_.end() && it->second.ready && it->second.checksum == checksum) {
    ForgetReady(name.str(), it->second);
  }
  return nullptr;
}

bool Cache::MakeRoom(std::uint64_t needed, std::vector<std::string>& victims) {
  if (needed > max_bytes_) return false;
  while (used_ + needed > max_bytes_) {
    if (ready_files_ == 0) return false;  // everything left is a fill in progress
    Key key = policy_->EvictOne();
    std::string name = names_by_key_[key];
    Entry& entry = entries_.at(name);
    used_ -= entry.bytes;
    ready_bytes_ -= entry.bytes;
    --ready_files_;
    free_keys_.push_back(key);
    entries_.erase(name);
    ++stats_.evictions;
    victims.push_back(std::move(name));
  }
  return true;
}

void Cache::ForgetReady(const std::string& name, Entry& entry) {
  policy_->OnErase(entry.key);
  free_keys_.push_back(entry.key);
  used_ -= entry.bytes;
  ready_bytes_ -= entry.bytes;
  --ready_files_;
  entries_.erase(name);
}

void Cache::AddReady(const std::string& name, Entry& entry, std::uint64_t allocated) {
  used_ += allocated - entry.bytes;  // the reservation becomes what the copy really occupies
  entry.bytes = allocated;
  entry.ready = true;
  if (!free_keys_.empty()) {
    entry.key = free_keys_.back();
    free_keys_.pop_back();
    names_by_key_[entry.key] = name;
  } else {
    entry.key = static_cast<Key>(names_by_key_.size());
    names_by_key_.push_back(name);
  }
  ready_bytes_ += allocated;
  ++ready_files_;
  policy_->OnInsert(entry.key, allocated);
}

Result<store::FileVersion> Cache::Copy(const ObjectName& name, store::ReadFile& source,
                                       const Checksum& checksum) {
  auto copy = folder_->BeginWrite(name);
  if (!copy.ok()) return copy.status();
  std::vector<char> buffer(1 << 20);
  Hasher hasher(checksum.algo);
  std::uint64_t offset = 0;
  std::uint64_t size = source.version().size;
  while (offset < size) {
    if (stopping_.load()) return Status::Busy("the server is stopping");
    Result<std::size_t> got = source.ReadAt(offset, buffer);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    std::string_view bytes(buffer.data(), *got);
    hasher.Update(bytes);
    if (Status s = (*copy)->Append(bytes); !s.ok()) return s;
    offset += *got;
  }
  if (offset != size || hasher.Finish() != checksum) {
    return Status::Conflict(fmt::format("{} changed while it was copied to the cache", name.str()));
  }
  return (*copy)->Commit(checksum);
}

void Cache::Unlink(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    auto object = ObjectName::FromDecoded(name);
    if (object.ok()) (void)folder_->Remove(*object);
  }
}

Status Cache::Fill(const ObjectName& name, store::ReadFile& source, const Checksum& checksum) {
  std::uint64_t size = source.version().size;
  std::uint64_t reserved = Reservation(size);
  std::uint64_t generation = 0;
  std::vector<std::string> victims;
  bool admitted = false;
  {
    std::lock_guard lock(mutex_);
    if (size > max_object_) {
      ++stats_.bypassed;
      spdlog::debug("cache: not caching {}: {} bytes is over --cache-max-object", name.str(), size);
      return Status::Ok();
    }
    auto it = entries_.find(name.str());
    if (it != entries_.end()) {
      if (!it->second.ready || it->second.checksum == checksum) return Status::Ok();
      ForgetReady(name.str(), it->second);  // a copy of an older version
      victims.push_back(name.str());
    }
    admitted = MakeRoom(reserved, victims);
    if (admitted) {
      generation = ++generation_;
      entries_[name.str()] = Entry{0, reserved, checksum, false, generation};
      used_ += reserved;
      ++stats_.fills_in_flight;
    } else {
      ++stats_.bypassed;
      spdlog::debug("cache: not caching {}: no room while other fills hold it", name.str());
    }
  }
  Unlink(victims);  // what MakeRoom evicted stays evicted, admitted or not
  if (!admitted) return Status::Ok();

  Result<store::FileVersion> copied = Copy(name, source, checksum);
  {
    std::lock_guard lock(mutex_);
    --stats_.fills_in_flight;
    victims.clear();
    auto it = entries_.find(name.str());
    bool current = it != entries_.end() && it->second.generation == generation;
    if (current && copied.ok()) {
      AddReady(name.str(), it->second, std::max(copied->allocated_bytes, reserved));
      MakeRoom(0, victims);  // if the copy occupies more than it reserved
    } else {
      if (current) {  // the copy failed: release the reservation
        used_ -= it->second.bytes;
        entries_.erase(it);
      } else if (copied.ok() && it != entries_.end() && it->second.ready) {
        // Invalidated midway, and a newer copy was ready already: ours was renamed over it.
        ForgetReady(name.str(), it->second);
      }
      if (copied.ok()) victims.push_back(name.str());  // what we renamed into place
    }
  }
  Unlink(victims);
  if (!copied.ok()) return copied.status();
  return Status::Ok();
}

void Cache::Invalidate(const ObjectName& name) {
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name.str());
    if (it == entries_.end()) return;
    if (it->second.ready) {
      ForgetReady(name.str(), it->second);
    } else {
      // A fill in progress: release its reservation now; the fill sees the new generation
      // (or no entry) when it ends and removes its copy.
      used_ -= it->second.bytes;
      entries_.erase(it);
    }
  }
  (void)folder_->Remove(name);
}

std::set<std::string> Cache::CachedNames(std::string_view prefix) {
  std::set<std::string> names;
  std::lock_guard lock(mutex_);
  for (const auto& [name, entry] : entries_) {
    if (entry.ready && name.starts_with(prefix)) names.insert(name);
  }
  return names;
}

void Cache::RecordServed(bool from_cache, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  if (from_cache) {
    ++stats_.hits;
    stats_.bytes_from_cache += bytes;
  } else {
    ++stats_.misses;
    stats_.bytes_from_store += bytes;
  }
}

CacheStats Cache::Stats() {
  std::lock_guard lock(mutex_);
  CacheStats stats = stats_;
  stats.bytes_cached = ready_bytes_;
  stats.files_cached = ready_files_;
  stats.max_bytes = max_bytes_;
  return stats;
}

}  // namespace ferry::cache
