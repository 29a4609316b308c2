#include "cache/cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/io.h"

namespace ferry::cache {
namespace {

constexpr std::uint64_t kBlock = 4096;
constexpr unsigned kMaxSavedHits = 7;
// The journal is folded into a new snapshot once it is larger than this or than about two
// snapshot lines per copy, so the index stays proportional to the cache (~100 B a copy).
constexpr std::uint64_t kMinJournalBytes = 256 << 10;
constexpr std::uint64_t kJournalBytesPerCopy = 200;
constexpr const char* kSnapshotFile = "index";
constexpr const char* kJournalFile = "journal";
// How long a full disk pauses admissions: short enough that freed space is used soon.
constexpr std::chrono::seconds kDiskFullPause{5};

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
  auto start = std::chrono::steady_clock::now();
  bool loaded = cache->LoadIndex(dropped);
  if (!loaded) cache->Scan(dropped);
  {
    std::lock_guard lock(cache->mutex_);
    cache->stats_.evictions = 0;  // shrinking at start is not traffic
    spdlog::info("cache: {} copies ({} bytes) from {} in {} ms; {} dropped", cache->ready_files_,
                 cache->ready_bytes_, loaded ? "the index" : "a scan",
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start).count(),
                 dropped.size());
  }
  cache->Unlink(dropped);
  if (!cache->state_dir_.empty()) {
    std::filesystem::path journal = cache->state_dir_ / kJournalFile;
    int fd = ::open(journal.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return PosixError(errno, fmt::format("open {}", journal.string()));
    {
      std::lock_guard lock(cache->journal_mutex_);
      cache->journal_fd_ = fd;
    }
    if (Status s = cache->SaveIndex(); !s.ok()) return s;  // what was loaded becomes a snapshot
  }
  return cache;
}

Cache::~Cache() {
  if (journal_fd_ >= 0) ::close(journal_fd_);
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
  if (state_dir_.empty()) return false;
  std::ifstream snapshot(state_dir_ / kSnapshotFile);
  std::ifstream journal(state_dir_ / kJournalFile);
  if (!snapshot && !journal) return false;
  // Copies in recency order (least recent first): the snapshot's, then the journal's additions.
  std::vector<std::pair<SavedCopy, bool>> copies;  // bool: the saved file identity is known
  std::unordered_map<std::string, std::size_t> position;
  auto forget = [&](const std::string& name) {
    auto it = position.find(name);
    if (it == position.end()) return;
    copies[it->second].first.name.clear();  // tombstone
    position.erase(it);
  };
  std::string line;
  if (snapshot && std::getline(snapshot, line) && line == kSnapshotHeader) {
    while (std::getline(snapshot, line)) {
      if (auto copy = ParseSnapshotLine(line)) {
        forget(copy->name);
        position[copy->name] = copies.size();
        copies.emplace_back(std::move(*copy), true);
      }
    }
  }
  while (journal && std::getline(journal, line)) {
    auto record = ParseJournalRecord(line);  // a torn last line is skipped
    if (!record) continue;
    forget(record->name);
    if (record->kind == JournalRecord::Kind::kAdded) {
      position[record->name] = copies.size();
      copies.emplace_back(SavedCopy{record->name, record->checksum, 0, {}}, false);
    }
  }
  for (const auto& [copy, trust_version] : copies) {
    if (!copy.name.empty()) Admit(copy, trust_version, dropped);
  }
  return true;
}

void Cache::Admit(const SavedCopy& saved, bool trust_version, std::vector<Victim>& dropped) {
  auto name = ObjectName::FromDecoded(saved.name);
  if (!name.ok()) return;
  std::optional<store::FileVersion> now;
  if (trust_version) {  // one stat: the copy is the one the snapshot describes
    auto stat = folder_->Stat(*name);
    if (stat.ok() && stat->size == saved.version.size &&
        stat->mtime_ns == saved.version.mtime_ns && stat->inode == saved.version.inode) {
      now = *stat;
    } else if (stat.ok()) {
      std::lock_guard lock(mutex_);
      used_ += stat->allocated_bytes;  // changed behind our back: on disk until unlinked
      dropped.push_back({saved.name, stat->allocated_bytes});
      return;
    }
  } else {  // journaled after the last snapshot: its checksum xattr decides
    auto opened = folder_->OpenRead(*name);
    if (opened.ok()) {
      auto remembered = folder_->RememberedChecksum(**opened);
      if (remembered && *remembered == saved.checksum) {
        now = (*opened)->version();
      } else {
        std::lock_guard lock(mutex_);
        used_ += (*opened)->version().allocated_bytes;
        dropped.push_back({saved.name, (*opened)->version().allocated_bytes});
        return;
      }
    }
  }
  if (!now) return;  // gone: nothing to drop
  std::lock_guard lock(mutex_);
  if (now->size > max_object_ || !MakeRoom(now->allocated_bytes, dropped)) {
    used_ += now->allocated_bytes;
    dropped.push_back({saved.name, now->allocated_bytes});
    return;
  }
  Entry& entry = entries_[saved.name];
  entry.checksum = saved.checksum;
  AddReady(saved.name, entry, *now);
  unsigned hits = std::min(saved.hits, kMaxSavedHits);
  for (unsigned i = 0; i < hits; ++i) policy_->OnHit(entry.key);
  entry.hits = static_cast<std::uint8_t>(hits);
}

Status Cache::SaveIndex() {
  std::lock_guard journal_lock(journal_mutex_);
  if (journal_fd_ < 0) return Status::Ok();
  std::vector<std::pair<std::uint64_t, std::string>> lines;
  std::string in_flight;  // "A" records of fills that wrote theirs: they stay in the journal
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, entry] : entries_) {
      if (entry.ready) {
        lines.emplace_back(entry.last_access,
                           FormatSnapshotLine({name, entry.checksum, entry.hits, entry.version}));
      } else if (entry.journaled) {
        in_flight += FormatJournalRecord({JournalRecord::Kind::kAdded, name, entry.checksum});
      }
    }
  }
  std::sort(lines.begin(), lines.end());  // least recently used first: replayed in that order
  std::filesystem::path path = state_dir_ / kSnapshotFile;
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kSnapshotHeader << "\n";
    for (const auto& [order, text] : lines) out << text;
    if (!out.flush()) return Status::Internal(fmt::format("write {}", tmp.string()));
  }
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);  // the snapshot is durable before the journal it replaces is emptied
    ::close(fd);
  }
  std::error_code error;
  std::filesystem::rename(tmp, path, error);
  if (error) return Status::Internal(fmt::format("save {}: {}", path.string(), error.message()));
  if (::ftruncate(journal_fd_, 0) != 0) return PosixError(errno, "empty the cache journal");
  journal_bytes_ = 0;
  if (!in_flight.empty()) return AppendJournal(in_flight);
  ::fdatasync(journal_fd_);
  return Status::Ok();
}

Status Cache::AppendJournal(std::string_view records) {
  if (journal_fd_ < 0) return Status::Ok();
  journal_bytes_ += records.size();
  return WriteAll(journal_fd_, records, "append to the cache journal");
}

Status Cache::JournalAdded(const PendingFill& pending) {
  {
    std::lock_guard journal_lock(journal_mutex_);
    if (journal_fd_ < 0) return Status::Ok();
    Status appended = AppendJournal(
        FormatJournalRecord({JournalRecord::Kind::kAdded, pending.name, pending.checksum}));
    if (!appended.ok()) return appended;
    std::lock_guard lock(mutex_);
    entries_.at(pending.name).journaled = true;  // a compaction from now on keeps the record
  }
  // Synced before the rename, so no crash leaves a copy the index does not know about.
  int fd;
  {
    std::lock_guard journal_lock(journal_mutex_);
    fd = journal_fd_;
  }
  if (::fdatasync(fd) != 0) return PosixError(errno, "sync the cache journal");
  return Status::Ok();
}

Cache::Cache(std::unique_ptr<store::Store> folder, const CacheOptions& options,
             std::unique_ptr<EvictionPolicy> policy)
    : folder_(std::move(folder)),
      state_dir_(options.state_dir),
      max_object_(options.max_object != 0 ? options.max_object : options.max_bytes / 8),
      max_bytes_(options.max_bytes),
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
  ++unlinking_[name];
  entries_.erase(name);
  return victim;
}

void Cache::Unlink(const std::vector<Victim>& victims) {
  if (victims.empty()) return;
  std::uint64_t bytes = 0;
  std::string records;
  for (const Victim& victim : victims) {
    auto object = ObjectName::FromDecoded(victim.name);
    if (object.ok()) (void)folder_->Remove(*object);
    bytes += victim.bytes;
    records += FormatJournalRecord({JournalRecord::Kind::kRemoved, victim.name, {}});
  }
  // Unsynced: a lost "E" only means the next start finds the copy gone and drops it.
  bool compact;
  {
    std::lock_guard journal_lock(journal_mutex_);
    (void)AppendJournal(records);
    std::uint64_t copies;
    {
      std::lock_guard lock(mutex_);
      used_ -= bytes;
      for (const Victim& victim : victims) {  // their names may be filled again from now on
        auto it = unlinking_.find(victim.name);
        if (it != unlinking_.end() && --it->second <= 0) unlinking_.erase(it);
      }
      copies = ready_files_;
    }
    compact = journal_bytes_ > std::max(kMinJournalBytes, copies * kJournalBytesPerCopy);
  }
  if (compact) {
    if (Status s = SaveIndex(); !s.ok()) spdlog::warn("cache: {}", s.ToString());
  }
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
  if (Status s = JournalAdded(pending); !s.ok()) return s;  // no journal record, no copy
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
    if (std::chrono::steady_clock::now() < disk_full_until_) {
      ++stats_.bypassed;
      spdlog::debug("cache: not caching {}: its disk was full a moment ago", name.str());
      return nullptr;
    }
    if (unlinking_.contains(name.str())) return nullptr;  // its old copy is on its way out
    auto it = entries_.find(name.str());
    if (it != entries_.end()) {
      if (!it->second.ready || it->second.checksum == checksum) return nullptr;
      victims.push_back(ForgetReady(name.str(), it->second));  // a copy of an older version
    }
    admitted = MakeRoom(reserved, victims);
    if (admitted) {
      // Followers can join from now on; they wait until the copy is open and growing.
      pending->progress = std::make_shared<FillProgress>();
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
      if (status.code() == Code::kInsufficientStorage) {
        if (std::chrono::steady_clock::now() >= disk_full_until_) {
          spdlog::warn("cache: {}; admitting nothing for {} s (reads go on)", status.ToString(),
                       kDiskFullPause.count());
        }
        disk_full_until_ = std::chrono::steady_clock::now() + kDiskFullPause;
      }
      victims.push_back({pending.name, entry.bytes});
      ++unlinking_[pending.name];
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

void Cache::Resize(std::uint64_t max_bytes, std::uint64_t max_object) {
  std::vector<Victim> victims;
  {
    std::lock_guard lock(mutex_);
    max_bytes_ = max_bytes;
    max_object_.store(max_object != 0 ? max_object : max_bytes / 8, std::memory_order_relaxed);
    MakeRoom(0, victims);
  }
  Unlink(victims);
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
