#include "cache/cache.h"

#include <spdlog/spdlog.h>

#include <fmt/format.h>

namespace ferry::cache {
namespace {

constexpr std::uint64_t kBlock = 4096;

// What a copy of `size` bytes may occupy, before it exists: whole data blocks, plus one for
// the checksum xattr where it does not fit in the inode (ext4 here). Once the copy exists the
// reservation is trued to the blocks it really occupies.
std::uint64_t Reservation(std::uint64_t size) {
  return (size + kBlock - 1) / kBlock * kBlock + kBlock;
}

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
  std::vector<Victim> dropped;
  for (store::StoredFile& file : *files) {
    auto name = ObjectName::FromDecoded(file.name);
    std::optional<Checksum> checksum;
    if (name.ok()) {
      auto opened = cache->folder_->OpenRead(*name);
      if (opened.ok()) checksum = cache->folder_->RememberedChecksum(**opened);
    }
    std::lock_guard lock(cache->mutex_);
    std::uint64_t bytes = file.version.allocated_bytes;
    // An unverifiable or oversized copy is worth nothing; so is one that no longer fits.
    if (!checksum || file.version.size > cache->max_object_ || !cache->MakeRoom(bytes, dropped)) {
      cache->used_ += bytes;  // still on disk until unlinked below
      dropped.push_back({file.name, bytes});
      continue;
    }
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
  // The file under a ready entry is gone or not what the index says: the entry is worth
  // nothing.
  std::vector<Victim> victims;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name.str());
    if (it != entries_.end() && it->second.ready && it->second.checksum == checksum) {
      victims.push_back(ForgetReady(name.str(), it->second));
    }
  }
  Unlink(victims);
  return nullptr;
}

bool Cache::MakeRoom(std::uint64_t needed, std::vector<Victim>& victims) {
  if (needed > max_bytes_) return false;
  // Victims (the caller's and those chosen here) stay in used_ until the caller unlinks them,
  // which it does before writing a byte into the room they leave; other callers meanwhile
  // see them as still there.
  std::uint64_t freeing = 0;
  for (const Victim& victim : victims) freeing += victim.bytes;
  while (used_ - freeing + needed > max_bytes_) {
    if (ready_files_ == 0) return false;  // the rest is fills in progress and pending unlinks
    Key key = policy_->EvictOne();
    std::string name = names_by_key_[key];
    victims.push_back(ForgetReadyEvicted(name, entries_.at(name)));
    freeing += victims.back().bytes;
    ++stats_.evictions;
  }
  return true;
}

Cache::Victim Cache::ForgetReady(const std::string& name, Entry& entry) {
  policy_->OnErase(entry.key);
  return ForgetReadyEvicted(name, entry);
}

Cache::Victim Cache::ForgetReadyEvicted(const std::string& name, Entry& entry) {
  free_keys_.push_back(entry.key);
  ready_bytes_ -= entry.bytes;
  --ready_files_;
  Victim victim{name, entry.bytes};  // stays in used_ until Unlink
  entries_.erase(name);
  return victim;
}

void Cache::Unlink(const std::vector<Victim>& victims) {
  if (victims.empty()) return;
  std::uint64_t bytes = 0;
  for (const Victim& victim : victims) {
    auto object = ObjectName::FromDecoded(victim.name);
    if (object.ok()) (void)folder_->Remove(*object);
    bytes += victim.bytes;
  }
  std::lock_guard lock(mutex_);
  used_ -= bytes;
}

void Cache::AddReady(const std::string& name, Entry& entry, std::uint64_t allocated) {
  used_ = used_ - entry.bytes + allocated;  // the reservation becomes what the copy occupies
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

Status Cache::Fill(const ObjectName& name, store::ReadFile& source, const Checksum& checksum) {
  std::uint64_t size = source.version().size;
  std::uint64_t reserved = Reservation(size);
  std::vector<Victim> victims;
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
      victims.push_back(ForgetReady(name.str(), it->second));  // a copy of an older version
    }
    admitted = MakeRoom(reserved, victims);
    if (admitted) {
      entries_[name.str()] = Entry{0, reserved, checksum, false, false};
      used_ += reserved;
      ++stats_.fills_in_flight;
    } else {
      ++stats_.bypassed;
      spdlog::debug("cache: not caching {}: no room while other fills hold it", name.str());
    }
  }
  Unlink(victims);  // before writing: the reservation is only real once they are gone
  if (!admitted) return Status::Ok();

  Result<store::FileVersion> copied = Copy(name, source, checksum);
  victims.clear();
  {
    std::lock_guard lock(mutex_);
    --stats_.fills_in_flight;
    Entry& entry = entries_.at(name.str());  // only this fill erases a filling entry
    if (copied.ok() && !entry.abandoned) {
      AddReady(name.str(), entry, copied->allocated_bytes);
      MakeRoom(0, victims);  // in case the copy occupies more than it reserved
    } else {
      // Failed, or invalidated by a PUT or DEL meanwhile: whatever was renamed into place goes,
      // and the reservation is released once it is gone.
      victims.push_back({name.str(), entry.bytes});
      entries_.erase(name.str());
    }
  }
  Unlink(victims);
  return copied.status();
}

void Cache::Invalidate(const ObjectName& name) {
  std::vector<Victim> victims;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name.str());
    if (it == entries_.end()) return;
    if (it->second.ready) {
      victims.push_back(ForgetReady(name.str(), it->second));
    } else {
      it->second.abandoned = true;  // the fill removes its copy when it ends
    }
  }
  Unlink(victims);
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
