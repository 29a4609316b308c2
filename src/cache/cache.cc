#include "cache/cache.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include <fmt/format.h>

namespace ferry::cache {
namespace {

constexpr std::uint64_t kBlock = 4096;
constexpr std::string_view kIndexHeader = "ferry-cache-index 1";
constexpr unsigned kMaxSavedHits = 7;

// What a copy of `size` bytes may occupy, before it exists: whole data blocks, plus one for
// the checksum xattr where it does not fit in the inode (ext4 here). Once the copy exists the
// reservation is trued to the blocks it really occupies.
std::uint64_t Reservation(std::uint64_t size) {
  return (size + kBlock - 1) / kBlock * kBlock + kBlock;
}

}  // namespace

FillProgress::~FillProgress() {
  if (fd_ >= 0) ::close(fd_);
}

int FillProgress::fd() const {
  std::lock_guard lock(mutex_);
  return fd_;
}

void FillProgress::SetFd(int fd) {
  std::lock_guard lock(mutex_);
  fd_ = fd;
}

FillProgress::State FillProgress::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

void FillProgress::OnProgress(std::uint64_t seen, std::function<void()> wake) {
  {
    std::lock_guard lock(mutex_);
    if (state_.written <= seen && !state_.done) {
      waiters_.emplace_back(seen, std::move(wake));
      return;
    }
  }
  wake();
}

void FillProgress::WakeUp(std::vector<std::function<void()>>& ready) {
  std::erase_if(waiters_, [&](auto& waiter) {
    if (state_.written <= waiter.first && !state_.done) return false;
    ready.push_back(std::move(waiter.second));
    return true;
  });
}

void FillProgress::Advance(std::uint64_t written) {
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard lock(mutex_);
    state_.written = written;
    WakeUp(ready);
  }
  for (auto& wake : ready) wake();
}

void FillProgress::Finish(Status status) {
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard lock(mutex_);
    state_.done = true;
    state_.status = std::move(status);
    WakeUp(ready);
  }
  for (auto& wake : ready) wake();
}

Result<std::unique_ptr<Cache>> Cache::Open(std::unique_ptr<store::Store> folder,
                                           const CacheOptions& options) {
  auto policy = MakePolicy(options.policy, {.capacity_bytes = options.max_bytes});
  if (!policy) return Status::BadRequest(fmt::format("unknown cache policy '{}'", options.policy));
  std::unique_ptr<Cache> cache(new Cache(std::move(folder), options, std::move(policy)));
  std::vector<Victim> dropped;
  bool loaded = cache->LoadIndex(dropped);
  if (!loaded) cache->Scan(dropped);
  {
    std::lock_guard lock(cache->mutex_);
    cache->stats_.evictions = 0;  // shrinking at start is not traffic
    spdlog::info("cache: {} copies ({}) from {}; {} dropped", cache->ready_files_,
                 cache->ready_bytes_, loaded ? "the saved index" : "a scan", dropped.size());
  }
  cache->Unlink(dropped);
  return cache;
}

void Cache::Scan(std::vector<Victim>& dropped) {
  // Recency is unknown here: the copies enter the policy in name order.
  auto files = folder_->List("");
  if (!files.ok()) {
    spdlog::warn("cache: cannot list the folder: {}", files.status().ToString());
    return;
  }
  for (store::StoredFile& file : *files) {
    auto name = ObjectName::FromDecoded(file.name);
    std::optional<Checksum> checksum;
    if (name.ok()) {
      auto opened = folder_->OpenRead(*name);
      if (opened.ok()) checksum = folder_->RememberedChecksum(**opened);
    }
    std::lock_guard lock(mutex_);
    // An unverifiable or oversized copy is worth nothing; so is one that no longer fits.
    if (!checksum || file.version.size > max_object_ ||
        !MakeRoom(file.version.allocated_bytes, dropped)) {
      used_ += file.version.allocated_bytes;  // still on disk until unlinked
      dropped.push_back({file.name, file.version.allocated_bytes});
      continue;
    }
    Entry& entry = entries_[file.name];
    entry.checksum = *checksum;
    AddReady(file.name, entry, file.version);
  }
}

bool Cache::LoadIndex(std::vector<Victim>& dropped) {
  if (index_file_.empty()) return false;
  std::ifstream in(index_file_);
  std::string line;
  if (!in || !std::getline(in, line) || line != kIndexHeader) return false;
  // From now on a crash must not find this index: copies made later would be missing from it.
  std::error_code ignored;
  std::filesystem::remove(index_file_, ignored);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    unsigned hits = 0;
    store::FileVersion saved;
    std::string checksum_text, wire_name;
    if (!(fields >> hits >> saved.allocated_bytes >> saved.size >> saved.mtime_ns >> saved.inode >>
          checksum_text >> wire_name)) {
      continue;
    }
    auto name = ObjectName::FromWire(wire_name);
    auto checksum = Checksum::Parse(checksum_text);
    if (!name.ok() || !checksum) continue;
    auto now = folder_->Stat(*name);
    std::lock_guard lock(mutex_);
    bool same = now.ok() && now->size == saved.size && now->mtime_ns == saved.mtime_ns &&
                now->inode == saved.inode;
    if (!same || saved.size > max_object_ || !MakeRoom(now->allocated_bytes, dropped)) {
      if (now.ok()) {
        used_ += now->allocated_bytes;
        dropped.push_back({name->str(), now->allocated_bytes});
      }
      continue;
    }
    Entry& entry = entries_[name->str()];
    entry.checksum = *checksum;
    AddReady(name->str(), entry, *now);
    for (unsigned i = 0; i < std::min(hits, kMaxSavedHits); ++i) policy_->OnHit(entry.key);
    entry.hits = static_cast<std::uint8_t>(std::min(hits, kMaxSavedHits));
  }
  return true;
}

Status Cache::SaveIndex() {
  if (index_file_.empty()) return Status::Ok();
  std::vector<std::pair<std::uint64_t, std::string>> lines;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, entry] : entries_) {
      if (!entry.ready) continue;
      const store::FileVersion& v = entry.version;
      lines.emplace_back(entry.last_access,
                         fmt::format("{} {} {} {} {} {} {}\n", entry.hits, v.allocated_bytes,
                                     v.size, v.mtime_ns, v.inode, entry.checksum.ToString(),
                                     PercentEncode(name)));
    }
  }
  std::sort(lines.begin(), lines.end());  // least recently used first: replayed in that order
  std::filesystem::path tmp = index_file_;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kIndexHeader << "\n";
    for (const auto& [order, text] : lines) out << text;
    if (!out.flush()) return Status::Internal(fmt::format("write {}", tmp.string()));
  }
  std::error_code error;
  std::filesystem::rename(tmp, index_file_, error);
  if (error) return Status::Internal(fmt::format("save {}: {}", index_file_.string(), error.message()));
  return Status::Ok();
}

Cache::Cache(std::unique_ptr<store::Store> folder, const CacheOptions& options,
             std::unique_ptr<EvictionPolicy> policy)
    : folder_(std::move(folder)),
      index_file_(options.index_file),
      max_bytes_(options.max_bytes),
      max_object_(options.max_object != 0 ? options.max_object : options.max_bytes / 8),
      policy_(std::move(policy)) {}

CacheLookup Cache::Lookup(const ObjectName& name, const Checksum& checksum) {
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name.str());
    if (it == entries_.end() || it->second.checksum != checksum) return {};
    if (!it->second.ready) {
      if (it->second.abandoned) return {};
      return {nullptr, it->second.progress};
    }
    policy_->OnHit(it->second.key);
    it->second.last_access = ++access_clock_;
    if (it->second.hits < kMaxSavedHits) ++it->second.hits;
  }
  // The copy may be evicted or replaced between the index and the open: verify what we got.
  auto copy = folder_->OpenRead(name);
  std::optional<Checksum> remembered;
  if (copy.ok()) remembered = folder_->RememberedChecksum(**copy);
  if (remembered && *remembered == checksum) return {std::move(*copy), nullptr};
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
  return {};
}

bool Cache::MakeRoom(std::uint64_t needed, std::vector<Victim>& victims, std::uint64_t limit) {
  if (limit == 0) limit = max_bytes_;
  if (needed > limit) return false;
  // Victims (the caller's and those chosen here) stay in used_ until the caller unlinks them,
  // which it does before writing a byte into the room they leave; other callers meanwhile
  // see them as still there.
  std::uint64_t freeing = 0;
  for (const Victim& victim : victims) freeing += victim.bytes;
  while (used_ - freeing + needed > limit) {
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

void Cache::AddReady(const std::string& name, Entry& entry, const store::FileVersion& version) {
  std::uint64_t allocated = version.allocated_bytes;
  used_ = used_ - entry.bytes + allocated;  // the reservation becomes what the copy occupies
  entry.bytes = allocated;
  entry.ready = true;
  entry.version = version;
  entry.last_access = ++access_clock_;
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

Result<store::FileVersion> Cache::Copy(PendingFill& pending, store::ReadFile& source) {
  std::vector<char> buffer(1 << 20);
  Hasher hasher(pending.checksum.algo);
  std::uint64_t offset = 0;
  std::uint64_t size = source.version().size;
  while (offset < size) {
    if (stopping_.load()) return Status::Busy("the server is stopping");
    Result<std::size_t> got = source.ReadAt(offset, buffer);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    std::string_view bytes(buffer.data(), *got);
    hasher.Update(bytes);
    if (Status s = pending.writer->Append(bytes); !s.ok()) return s;
    offset += *got;
    {
      std::lock_guard lock(mutex_);
      stats_.store_bytes_read += *got;
    }
    pending.progress->Advance(offset);
  }
  if (offset != size || hasher.Finish() != pending.checksum) {
    return Status::Conflict(
        fmt::format("{} changed while it was copied to the cache", pending.name));
  }
  return pending.writer->Commit(pending.checksum);
}

std::unique_ptr<PendingFill> Cache::BeginFill(const ObjectName& name, std::uint64_t size,
                                             const Checksum& checksum) {
  std::uint64_t reserved = Reservation(size);
  std::vector<Victim> victims;
  bool admitted = false;
  auto pending = std::make_unique<PendingFill>();
  pending->name = name.str();
  pending->checksum = checksum;
  {
    std::lock_guard lock(mutex_);
    if (size > max_object_) {
      ++stats_.bypassed;
      spdlog::debug("cache: not caching {}: {} bytes is over --cache-max-object", name.str(), size);
      return nullptr;
    }
    auto it = entries_.find(name.str());
    if (it != entries_.end()) {
      if (!it->second.ready || it->second.checksum == checksum) return nullptr;
      victims.push_back(ForgetReady(name.str(), it->second));  // a copy of an older version
    }
    admitted = MakeRoom(reserved, victims);
    if (admitted) {
      // Followers can join from now on; they wait until the copy is open and growing.
      pending->progress = std::make_shared<FillProgress>(size);
      entries_[name.str()] = Entry{0, reserved, checksum, false, false, pending->progress};
      used_ += reserved;
      ++stats_.fills_in_flight;
    } else {
      ++stats_.bypassed;
      spdlog::debug("cache: not caching {}: no room while other fills hold it", name.str());
    }
  }
  Unlink(victims);  // before writing: the reservation is only real once they are gone
  if (!admitted) return nullptr;

  auto writer = folder_->BeginWrite(name);
  int fd = writer.ok() && (*writer)->fd() >= 0 ? ::dup((*writer)->fd()) : -1;
  if (fd < 0) {
    // Could not open the copy: give the reservation back and wake followers, as a failed
    // fill would.
    Finalize(*pending, writer.ok() ? Status::Internal("cannot follow the copy") : writer.status());
    return nullptr;
  }
  pending->writer = std::move(*writer);
  pending->progress->SetFd(fd);
  return pending;
}

Status Cache::RunFill(std::unique_ptr<PendingFill> pending, store::ReadFile& source) {
  Result<store::FileVersion> copied = Copy(*pending, source);
  pending->writer.reset();  // a failed copy's temporary file goes now
  Finalize(*pending, copied.ok() ? Status::Ok() : copied.status(),
           copied.ok() ? *copied : store::FileVersion{});
  return copied.status();
}

void Cache::Finalize(PendingFill& pending, Status status, const store::FileVersion& version) {
  std::vector<Victim> victims;
  {
    std::lock_guard lock(mutex_);
    --stats_.fills_in_flight;
    Entry& entry = entries_.at(pending.name);  // only its fill erases a filling entry
    if (status.ok() && !entry.abandoned) {
      entry.progress.reset();
      AddReady(pending.name, entry, version);
      // Evict ahead of need, here on the filler's thread: past 95% of the limit, down to 90%,
      // so that the next fills (whose GETs wait for BeginFill) find room without evicting.
      if (used_ > max_bytes_ / 20 * 19) MakeRoom(0, victims, max_bytes_ / 10 * 9);
    } else {
      // Failed, or invalidated by a PUT or DEL meanwhile: whatever was renamed into place goes,
      // and the reservation is released once it is gone.
      if (status.ok()) status = Status::Conflict("the file changed while it was cached");
      victims.push_back({pending.name, entry.bytes});
      entries_.erase(pending.name);
    }
  }
  Unlink(victims);
  pending.progress->Finish(std::move(status));  // wakes every follower
}

void Cache::CancelFill(std::unique_ptr<PendingFill> pending, Status why) {
  pending->writer.reset();
  Finalize(*pending, std::move(why));
}

Status Cache::Fill(const ObjectName& name, store::ReadFile& source, const Checksum& checksum) {
  std::unique_ptr<PendingFill> pending = BeginFill(name, source.version().size, checksum);
  if (!pending) return Status::Ok();
  return RunFill(std::move(pending), source);
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

bool Cache::Contains(const ObjectName& name, const Checksum& checksum) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(name.str());
  return it != entries_.end() && it->second.ready && it->second.checksum == checksum;
}

std::set<std::string> Cache::CachedNames(std::string_view prefix) {
  std::set<std::string> names;
  std::lock_guard lock(mutex_);
  for (const auto& [name, entry] : entries_) {
    if (entry.ready && name.starts_with(prefix)) names.insert(name);
  }
  return names;
}

void Cache::RecordServed(bool hit, bool from_cache_file, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  ++(hit ? stats_.hits : stats_.misses);
  if (from_cache_file) {
    stats_.bytes_from_cache += bytes;
  } else {
    stats_.bytes_from_store += bytes;
    stats_.store_bytes_read += bytes;
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
