#include "service/file_service.h"

#include <unistd.h>

#include <ctime>

#include <fmt/format.h>

namespace ferry::service {

Upload::Upload(std::unique_ptr<store::WriteFile> file, ObjectName name,
               std::optional<std::uint64_t> expected_size, std::uint64_t max_bytes,
               std::optional<Checksum> expected, bool replaces,
               std::function<void(const ObjectName&)> on_commit)
    : file_(std::move(file)), name_(std::move(name)), expected_size_(expected_size),
      max_bytes_(max_bytes), expected_(std::move(expected)), replaces_(replaces),
      on_commit_(std::move(on_commit)) {
  if (expected_ && expected_->algo != ChecksumAlgo::kXxh128) requested_.emplace(expected_->algo);
}

Status Upload::Append(std::string_view bytes) {
  if (bytes.size() > max_bytes_ - received_) {
    return Status::TooLarge(expected_size_ ? std::string("more bytes than the announced size")
                                           : fmt::format("more than the upload limit of {} bytes",
                                                         max_bytes_));
  }
  canonical_.Update(bytes);
  if (requested_) requested_->Update(bytes);
  received_ += bytes.size();
  return file_->Append(bytes);
}

Status Upload::HashResumedBytes(std::uint64_t bytes) {
  std::vector<char> buffer(1 << 20);
  for (std::uint64_t offset = 0; offset < bytes;) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(bytes - offset, buffer.size()));
    ssize_t got = ::pread(file_->fd(), buffer.data(), want, static_cast<off_t>(offset));
    if (got <= 0) return PosixError(got < 0 ? errno : EIO, "read the partial upload");
    std::string_view chunk(buffer.data(), static_cast<std::size_t>(got));
    canonical_.Update(chunk);
    if (requested_) requested_->Update(chunk);
    offset += static_cast<std::uint64_t>(got);
  }
  received_ = bytes;
  return Status::Ok();
}

Result<protocol::PutDone> Upload::Commit() {
  if (expected_size_ && received_ != *expected_size_) {
    return Status::BadRequest(
        fmt::format("got {} bytes of the announced {}", received_, *expected_size_));
  }
  Checksum canonical = canonical_.Finish();
  Checksum reply = requested_ ? requested_->Finish() : canonical;
  if (expected_ && *expected_ != reply) {
    file_->Discard();  // a resumed upload must not continue from wrong bytes
    return Status::ChecksumMismatch(fmt::format("{}: sent {}, received bytes have {}", name_.str(),
                                                expected_->ToString(), reply.ToString()));
  }
  Result<store::FileVersion> version = file_->Commit(canonical);
  // Even a failed commit may have replaced the file (its rename done, the folder's fsync
  // failed): the copies of the old version go either way.
  on_commit_(name_);
  if (!version.ok()) return version.status();
  return protocol::PutDone{received_, reply};
}

FileService::FileService(store::Store& data, cache::Cache* cache, BackgroundRunner background,
                         ServiceOptions options)
    : data_(data), cache_(cache), background_(std::move(background)), options_(options),
      max_upload_(options.max_upload), read_only_(options.read_only),
      hot_(options.hot_max_bytes, options.hot_max_object, options.hot_validity) {}

Result<std::vector<protocol::FileEntry>> FileService::List(std::string_view prefix) {
  Result<std::vector<store::StoredFile>> files = data_.List(prefix);
  if (!files.ok()) return files.status();
  std::set<std::string> cached;
  if (cache_ != nullptr) cached = cache_->CachedNames(prefix);
  std::vector<protocol::FileEntry> entries;
  entries.reserve(files->size());
  for (store::StoredFile& file : *files) {
    bool in_cache = cached.contains(file.name);
    entries.push_back({std::move(file.name), file.version.size, file.version.mtime_seconds(),
                       in_cache, std::nullopt});
  }
  return entries;
}

Result<Checksum> FileService::ChecksumOf(store::ReadFile& file) {
  if (std::optional<Checksum> known = data_.RememberedChecksum(file)) return *known;
  Hasher hasher(ChecksumAlgo::kXxh128);
  std::vector<char> buffer(1 << 20);
  std::uint64_t offset = 0;
  while (offset < file.version().size) {
    Result<std::size_t> got = file.ReadAt(offset, buffer);
    if (!got.ok()) return got.status();
    if (*got == 0) return Status::Conflict("file shrank while its checksum was computed");
    hasher.Update(buffer.data(), *got);
    offset += *got;
  }
  Checksum checksum = hasher.Finish();
  data_.RememberChecksum(file, checksum);
  return checksum;
}

Result<OpenedFile> FileService::Open(const ObjectName& name) {
  std::uint64_t hot_epoch = hot_.epoch();
  Result<std::unique_ptr<store::ReadFile>> file = data_.OpenRead(name);
  if (!file.ok()) return file.status();
  Result<Checksum> checksum = ChecksumOf(**file);
  if (!checksum.ok()) return checksum.status();
  const store::FileVersion& v = (*file)->version();
  protocol::FileEntry entry{name.str(), v.size, v.mtime_seconds(), false, *checksum};
  return OpenedFile{name, std::move(*file), std::move(entry), hot_epoch};
}

std::shared_ptr<const HotFile> FileService::FindHot(const ObjectName& name) {
  return hot_.Find(name.str(), HotFiles::Clock::now());
}

void FileService::RecordHotGet(const HotFile& file, std::uint64_t bytes) {
  if (options_.trace != nullptr) options_.trace->Record(std::time(nullptr), file.entry.name, file.entry.size);
  if (cache_ != nullptr) cache_->RecordServed(/*hit=*/true, /*from_cache_file=*/true, bytes);
  hot_hits_.fetch_add(1, std::memory_order_relaxed);
}

void FileService::OfferHot(const OpenedFile& opened, store::ReadFile& file) {
  std::uint64_t size = opened.entry.size;
  if (!hot_.Wants(size)) return;
  auto hot = std::make_shared<HotFile>();
  hot->entry = opened.entry;
  hot->bytes.resize(size);
  for (std::uint64_t done = 0; done < size;) {
    Result<std::size_t> got = file.ReadAt(done, {hot->bytes.data() + done, size - done});
    if (!got.ok() || *got == 0) return;  // it shrank: not worth keeping
    done += *got;
  }
  hot->get_head = protocol::EncodeGetHead({size, size, *opened.entry.checksum});
  hot->loaded = HotFiles::Clock::now();
  hot_.Insert(std::move(hot), opened.hot_epoch);
}

Result<protocol::FileEntry> FileService::Stat(const ObjectName& name) {
  Result<OpenedFile> opened = Open(name);
  if (!opened.ok()) return opened.status();
  opened->entry.cached = cache_ != nullptr && cache_->Contains(name, *opened->entry.checksum);
  return std::move(opened->entry);
}

Result<Download> FileService::Get(const ObjectName& name, std::uint64_t offset,
                                  std::optional<std::uint64_t> length) {
  Result<OpenedFile> opened = Open(name);
  if (!opened.ok()) return opened.status();
  return Get(std::move(*opened), offset, length);
}

Result<Download> FileService::Get(OpenedFile opened, std::uint64_t offset,
                                  std::optional<std::uint64_t> length) {
  const ObjectName& name = opened.name;
  const Checksum& checksum = *opened.entry.checksum;
  std::uint64_t size = opened.entry.size;
  if (offset > size) {
    return Status::BadRange(fmt::format("offset {} is past the end ({} bytes)", offset, size));
  }
  if (options_.trace != nullptr) options_.trace->Record(std::time(nullptr), name.str(), size);
  Download download;
  download.offset = offset;
  download.head = {std::min(length.value_or(size - offset), size - offset), size, checksum};
  if (cache_ == nullptr) {
    download.file = std::move(opened.file);
    OfferHot(opened, *download.file);
    return download;
  }
  cache::CacheLookup found = cache_->Lookup(name, checksum);
  bool whole_file = offset == 0 && download.head.length == size;
  if (found.copy) {
    download.file = std::move(found.copy);
    download.from_cache = download.cache_hit = true;
    cache_->RecordServed(/*hit=*/true, true, download.head.length);
  } else if (found.filling && whole_file) {
    download.filling = std::move(found.filling);  // another GET's fill: collapse onto it
    download.reopen = Reopener(name, checksum);
    download.from_cache = download.cache_hit = true;
    cache_->RecordServed(/*hit=*/true, true, download.head.length);
  } else {
    std::unique_ptr<cache::PendingFill> pending;
    if (!found.filling && size <= cache_->max_object()) pending = cache_->BeginFill(name, size, checksum);
    if (pending && whole_file) {
      download.filling = pending->progress;
      download.reopen = Reopener(name, checksum);
      download.from_cache = true;
      cache_->RecordServed(/*hit=*/false, true, download.head.length);
      RunFillInBackground(std::move(pending), std::move(opened.file));
    } else {
      if (pending) RunFillInBackground(std::move(pending), nullptr);
      download.file = std::move(opened.file);
      cache_->RecordServed(/*hit=*/false, false, download.head.length);
    }
  }
  if (download.file) OfferHot(opened, *download.file);
  return download;
}

std::function<Result<std::unique_ptr<store::ReadFile>>()> FileService::Reopener(
    const ObjectName& name, const Checksum& checksum) {
  return [this, name, checksum]() -> Result<std::unique_ptr<store::ReadFile>> {
    Result<OpenedFile> again = Open(name);
    if (!again.ok()) return again.status();
    if (*again->entry.checksum != checksum) {
      return Status::Conflict(fmt::format("{} changed while it was sent", name.str()));
    }
    return std::move(again->file);
  };
}

void FileService::RunFillInBackground(std::unique_ptr<cache::PendingFill> pending,
                                      std::unique_ptr<store::ReadFile> source) {
  // std::function needs a copyable job: the unique_ptrs ride in a shared_ptr.
  auto job = std::make_shared<std::pair<std::unique_ptr<cache::PendingFill>,
                                        std::unique_ptr<store::ReadFile>>>(std::move(pending),
                                                                           std::move(source));
  background_([this, job] {
    auto& [fill, file] = *job;
    if (!file) {  // a ranged GET started it: the fill opens the data file itself
      auto opened = data_.OpenRead(*ObjectName::FromDecoded(fill->name));
      if (!opened.ok()) return cache_->CancelFill(std::move(fill), opened.status());
      file = std::move(*opened);
    }
    (void)cache_->RunFill(std::move(fill), *file);
  });
}

Result<std::unique_ptr<Upload>> FileService::Put(const ObjectName& name,
                                                 std::optional<std::uint64_t> size,
                                                 std::optional<Checksum> expected,
                                                 bool resumable) {
  if (read_only_.load(std::memory_order_relaxed)) return Status::Forbidden("the server is read-only");
  if (resumable && (!size || !expected)) {
    return Status::BadRequest("a resumable PUT needs a size and a checksum");
  }
  std::uint64_t limit = max_upload_.load(std::memory_order_relaxed);
  if (limit == 0) limit = UINT64_MAX;
  if (size && *size > limit) {
    return Status::TooLarge(
        fmt::format("{} bytes is more than the upload limit of {} bytes", *size, limit));
  }
  // Refused before a byte is written: the free-space reserve (the bytes a resumed upload
  // already holds are counted again; erring towards refusing keeps the disk from filling).
  if (Status space = data_.Reserve(size.value_or(0)); !space.ok()) return space;
  std::string resume_key;
  if (resumable) {
    // The upload's identity: the same bytes for the same name continue; anything else starts anew.
    Hasher key(ChecksumAlgo::kXxh128);
    key.Update(fmt::format("{}\n{}\n{}", name.str(), *size, expected->ToString()));
    resume_key = key.Finish().hex;
  }
  std::optional<Checksum> announced;
  if (expected && expected->algo == ChecksumAlgo::kXxh128) announced = expected;
  Result<std::unique_ptr<store::WriteFile>> file = data_.BeginWrite(name, resume_key, announced);
  if (!file.ok()) return file.status();
  if (resumable && (*file)->resumed() > *size) {  // not from this upload: start afresh
    (*file)->Discard();
    file->reset();
    file = data_.BeginWrite(name, resume_key, announced);
    if (!file.ok()) return file.status();
  }
  // The data file is replaced first, then the cache's copy is dropped, so no reader is served
  // the old copy after the PUT's OK. The copy is made again on the next GET.
  auto on_commit = [this](const ObjectName& committed) {
    hot_.Forget(committed.str());
    if (cache_ != nullptr) cache_->Invalidate(committed);
  };
  bool replaces = data_.OpenRead(name).ok();
  std::uint64_t resumed = (*file)->resumed();
  auto upload = std::make_unique<Upload>(std::move(*file), name, size, size.value_or(limit),
                                         std::move(expected), replaces, on_commit);
  if (resumed > 0) {
    if (Status s = upload->HashResumedBytes(resumed); !s.ok()) return s;
  }
  return upload;
}

std::vector<protocol::StatValue> FileService::Stats() {
  cache::CacheStats c = cache_ != nullptr ? cache_->Stats() : cache::CacheStats{};
  std::uint64_t served = c.hits + c.misses;
  double hit_ratio = served == 0 ? 0.0 : static_cast<double>(c.hits) / static_cast<double>(served);
  auto number = [](std::uint64_t v) { return std::to_string(v); };
  std::vector<protocol::StatValue> stats = {{"hits", number(c.hits)},
          {"misses", number(c.misses)},
          {"hit_ratio", fmt::format("{:.4f}", hit_ratio)},
          {"bytes_from_cache", number(c.bytes_from_cache)},
          {"bytes_from_store", number(c.bytes_from_store)},
          {"store_bytes_read", number(c.store_bytes_read)},
          {"evictions", number(c.evictions)},
          {"bypassed", number(c.bypassed)},
          {"bytes_cached", number(c.bytes_cached)},
          {"files_cached", number(c.files_cached)},
          {"fills_in_flight", number(c.fills_in_flight)},
          {"cache_max_bytes", number(c.max_bytes)},
          {"memory_hits", number(hot_hits_.load(std::memory_order_relaxed))},
          {"memory_bytes", number(hot_.bytes())},
          {"memory_files", number(hot_.count())}};
  for (auto& [name, value] : data_.Counters()) stats.push_back({std::move(name), number(value)});
  return stats;
}

void FileService::SetLimits(std::uint64_t max_upload, bool read_only) {
  max_upload_.store(max_upload, std::memory_order_relaxed);
  read_only_.store(read_only, std::memory_order_relaxed);
}

Status FileService::Delete(const ObjectName& name) {
  if (read_only_.load(std::memory_order_relaxed)) return Status::Forbidden("the server is read-only");
  Status removed = data_.Remove(name);
  hot_.Forget(name.str());
  if (cache_ != nullptr && (removed.ok() || removed.code() == Code::kNotFound)) {
    cache_->Invalidate(name);
  }
  return removed;
}

}  // namespace ferry::service
