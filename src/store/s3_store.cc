// S3Store: the Store interface over an S3 bucket (store.h, OpenS3Store). docs/scale-out.md
// describes the model; the choices that matter:
//   - what is known of a name (exists or not, ETag, size, checksum) is remembered for
//     `revalidate_after`, then checked again with a conditional HEAD (If-None-Match): a
//     repeated STAT or GET costs the store nothing inside the window, one small request after;
//   - reads are ranged GETs pinned to the ETag they opened (If-Match), in windows that grow
//     while the reader goes forward, so a 1 KiB range of a huge object moves one window;
//   - writes are a single PUT up to one part, else a multipart upload whose parts go up in
//     parallel, at most `parallel_parts` in memory; nothing is visible before Commit, and an
//     upload that is dropped is aborted (ExpirePartials sweeps what a crash left);
//   - the checksum rides with the object as x-amz-meta-ferry-checksum.
#include <curl/curl.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iterator>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "store/s3_client.h"
#include "store/s3_protocol.h"
#include "store/store.h"

namespace ferry::store {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kChecksumHeader = "x-amz-meta-ferry-checksum";
constexpr std::size_t kFirstReadWindow = 256 << 10;
constexpr std::size_t kMaxReadWindow = 8 << 20;

// A few threads that run jobs in order of arrival; the destructor runs what is queued, then joins.
class Workers {
 public:
  explicit Workers(unsigned count) {
    for (unsigned i = 0; i < count; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~Workers() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }
  void Post(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;                   // GUARDED_BY(mutex_)
  std::vector<std::thread> threads_;
};

// What the store last learned of a name.
struct Known {
  bool exists = false;
  FileVersion version;
  std::string etag;
  std::optional<Checksum> checksum;
  Clock::time_point checked;
  // Which write of this node taught it (0: a HEAD did): a HEAD that began before a later
  // write must not replace what that write taught.
  std::uint64_t generation = 0;
};

FileVersion VersionOf(std::uint64_t size, std::string_view etag, std::int64_t mtime_ns) {
  FileVersion version;
  version.size = size;
  version.mtime_ns = mtime_ns;
  version.inode = s3::EtagIdentity(etag);
  version.allocated_bytes = size;
  return version;
}

// An HTTP date header ("Thu, 03 Dec 2026 08:33:34 GMT") in nanoseconds; 0 if absent.
std::int64_t HttpDateNs(std::string_view header) {
  if (header.empty()) return 0;
  std::string text(header);
  time_t seconds = curl_getdate(text.c_str(), nullptr);
  return seconds < 0 ? 0 : static_cast<std::int64_t>(seconds) * 1'000'000'000;
}

// nullopt unless 1 to 19 digits: a size the store did not say is not taken as 0.
std::optional<std::uint64_t> ContentLength(std::string_view header) {
  if (header.empty() || header.size() > 19) return std::nullopt;
  std::uint64_t size = 0;
  for (char c : header) {
    if (c < '0' || c > '9') return std::nullopt;
    size = size * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return size;
}

// S3 takes at most 10,000 parts per upload.
constexpr std::uint64_t kMaxParts = 10'000;

class S3Store;

// A multipart upload, shared by its WriteFile and the jobs that send its parts.
struct Multipart {
  std::mutex mutex;
  std::condition_variable changed;
  std::string upload_id;
  std::vector<std::string> etags;  // by part number - 1
  unsigned in_flight = 0;
  Status error;
  bool abandoned = false;  // the WriteFile went away without Commit: abort once parts settle
};

class S3ReadFile final : public ReadFile {
 public:
  S3ReadFile(S3Store& store, std::string name, std::string key, const Known& known)
      : store_(store), name_(std::move(name)), key_(std::move(key)), version_(known.version),
        etag_(known.etag), checksum_(known.checksum) {}
  const FileVersion& version() const override { return version_; }
  int fd() const override { return -1; }
  Result<std::size_t> ReadAt(std::uint64_t offset, std::span<char> out) override;

  const std::string& name() const { return name_; }
  const std::string& etag() const { return etag_; }
  std::optional<Checksum>& checksum() { return checksum_; }

 private:
  S3Store& store_;
  std::string name_;
  std::string key_;
  FileVersion version_;
  std::string etag_;
  std::optional<Checksum> checksum_;
  std::vector<char> window_;
  std::uint64_t window_start_ = 0;
  std::size_t window_bytes_ = 0;
  std::size_t next_window_ = kFirstReadWindow;
};

class S3WriteFile final : public WriteFile {
 public:
  S3WriteFile(S3Store& store, std::string name, std::optional<Checksum> announced)
      : store_(store), name_(std::move(name)), announced_(std::move(announced)) {}
  ~S3WriteFile() override;
  Status Append(std::string_view bytes) override;
  Result<FileVersion> Commit(const Checksum& checksum) override;

 private:
  Status SendPart(std::string part);
  // Sends the last part, waits for all, and joins them into the object; fills `known`.
  Status CompleteMultipart(Known& known);

  S3Store& store_;
  std::string name_;
  std::optional<Checksum> announced_;  // sent with a multipart upload's first request
  std::string buffer_;  // at most one part
  std::uint64_t size_ = 0;
  std::shared_ptr<Multipart> multipart_;  // null while the file fits in one part
  bool committed_ = false;
};

class S3Store final : public Store {
 public:
  S3Store(const S3StoreOptions& options, s3::Location location, s3::Credentials credentials)
      : options_(options), location_(std::move(location)),
        client_({options.endpoint, options.region, location_.bucket, std::move(credentials),
                 /*max_attempts=*/4, std::chrono::milliseconds(100), std::chrono::milliseconds(2'000),
                 std::chrono::milliseconds(5'000), options.stall_timeout}),
        workers_(std::max(2u, options.parallel_parts * 2)) {}

  Result<FileVersion> Stat(const ObjectName& name) override {
    Result<Known> known = Look(name.str(), /*trust_recent=*/true);
    if (!known.ok()) return known.status();
    if (!known->exists) return Status::NotFound(name.str());
    return known->version;
  }

  Result<std::vector<StoredFile>> List(std::string_view prefix) override;

  Result<std::unique_ptr<ReadFile>> OpenRead(const ObjectName& name) override {
    Result<Known> known = Look(name.str(), /*trust_recent=*/true);
    if (!known.ok()) return known.status();
    if (!known->exists) return Status::NotFound(name.str());
    return std::unique_ptr<ReadFile>(std::make_unique<S3ReadFile>(*this, name.str(), Key(name.str()), *known));
  }

  // Uploads to S3 are not resumable here: `resume_key` is ignored (docs/scale-out.md).
  Result<std::unique_ptr<WriteFile>> BeginWrite(const ObjectName& name, std::string_view resume_key,
                                                const std::optional<Checksum>& announced) override {
    (void)resume_key;
    return std::unique_ptr<WriteFile>(std::make_unique<S3WriteFile>(*this, name.str(), announced));
  }

  Status Remove(const ObjectName& name) override {
    // Always asked of the store itself: DEL of a missing name must say 404, not "removed".
    Result<Known> known = Look(name.str(), /*trust_recent=*/false);
    if (!known.ok()) return known.status();
    if (!known->exists) return Status::NotFound(name.str());
    s3::Response reply = client_.Perform(
        {.op = s3::Op::kDelete, .method = "DELETE", .key = Key(name.str())});
    if (reply.status != 204 && reply.status != 200) {
      return s3::StatusForReply(reply.status, ErrorOf(reply), "DEL " + name.str());
    }
    LearnWritten(name.str(), Known{.exists = false});
    return Status::Ok();
  }

  void ExpirePartials(std::chrono::seconds max_age) override;

  // An announced size beyond 10,000 parts is refused before a byte moves.
  Status Reserve(std::uint64_t bytes) override {
    if (bytes / kMaxParts >= options_.part_size) {
      return Status::TooLarge(fmt::format(
          "{} bytes is more than an S3 upload of 10,000 parts of {} bytes (raise --s3-part-size)",
          bytes, options_.part_size));
    }
    return Status::Ok();
  }

  std::optional<Checksum> RememberedChecksum(ReadFile& file) override {
    auto* s3_file = dynamic_cast<S3ReadFile*>(&file);
    return s3_file != nullptr ? s3_file->checksum() : std::nullopt;
  }

  void RememberChecksum(ReadFile& file, const Checksum& checksum) override {
    auto* s3_file = dynamic_cast<S3ReadFile*>(&file);
    if (s3_file == nullptr) return;
    s3_file->checksum() = checksum;
    // Kept for this node's later readers of the same ETag (computed once per version).
    std::lock_guard lock(known_mutex_);
    auto it = known_.find(s3_file->name());
    if (it != known_.end() && it->second.etag == s3_file->etag()) it->second.checksum = checksum;
  }

  std::vector<std::pair<std::string, std::uint64_t>> Counters() override {
    auto counters = client_.Counters();
    std::lock_guard lock(known_mutex_);
    counters.emplace_back("store_known_names", known_.size());
    return counters;
  }

  // For the files.
  s3::Client& client() { return client_; }
  Workers& workers() { return workers_; }
  const S3StoreOptions& options() const { return options_; }
  std::string Key(std::string_view name) const { return location_.prefix + std::string(name); }
  // What a write of this node (PUT, DEL) taught: newer than any HEAD in flight.
  void LearnWritten(const std::string& name, Known known) {
    known.checked = Clock::now();
    std::lock_guard lock(known_mutex_);
    known.generation = ++write_generation_;
    LearnLocked(name, std::move(known));
  }
  void LearnLocked(const std::string& name, Known known) {
    // Bounded: when full, everything is forgotten (and learned again on the next request).
    if (known_.size() >= options_.max_known && !known_.contains(name)) known_.clear();
    known_[name] = std::move(known);
  }
  // Multipart uploads of this node in progress: the sweep of abandoned ones leaves them.
  void UploadStarted(const std::string& id) {
    std::lock_guard lock(known_mutex_);
    active_uploads_.insert(id);
  }
  void UploadEnded(const std::string& id) {
    std::lock_guard lock(known_mutex_);
    active_uploads_.erase(id);
  }
  bool UploadActive(const std::string& id) {
    std::lock_guard lock(known_mutex_);
    return active_uploads_.contains(id);
  }
  void Forget(const std::string& name) {
    std::lock_guard lock(known_mutex_);
    known_.erase(name);
  }
  static s3::ErrorBody ErrorOf(const s3::Response& reply) {
    s3::ErrorBody error = reply.error();
    if (reply.status == 0) error.message = reply.transport_error;
    return error;
  }

 private:
  // What the store holds under `name`: as remembered if checked within revalidate_after (and
  // `trust_recent`), else asked with a HEAD, conditional when an ETag is known.
  Result<Known> Look(const std::string& name, bool trust_recent);
  // After a HEAD's 404: whether the bucket itself is there (checked at most once a window).
  Status CheckBucket();

  S3StoreOptions options_;
  s3::Location location_;
  s3::Client client_;
  std::mutex known_mutex_;
  std::unordered_map<std::string, Known> known_;  // GUARDED_BY(known_mutex_)
  std::uint64_t write_generation_ = 0;             // GUARDED_BY(known_mutex_)
  std::optional<Clock::time_point> bucket_checked_;  // GUARDED_BY(known_mutex_)
  Status bucket_status_;                           // GUARDED_BY(known_mutex_)
  std::set<std::string> active_uploads_;           // GUARDED_BY(known_mutex_)
  Workers workers_;  // last: joined first, while what its jobs use still exists
};

Result<Known> S3Store::Look(const std::string& name, bool trust_recent) {
  std::optional<Known> previous;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(known_mutex_);
    generation = write_generation_;
    if (auto it = known_.find(name); it != known_.end()) {
      if (trust_recent && Clock::now() - it->second.checked < options_.revalidate_after) {
        return it->second;
      }
      previous = it->second;
    }
  }
  s3::Request request{.op = s3::Op::kHead, .method = "HEAD", .key = Key(name)};
  if (previous && previous->exists) request.headers.push_back(fmt::format("If-None-Match: \"{}\"", previous->etag));
  s3::Response reply = client_.Perform(request);
  Known known;
  if (reply.status == 304 && previous) {
    known = *previous;
  } else if (reply.status == 200) {
    std::optional<std::uint64_t> size = ContentLength(reply.Header("content-length"));
    if (!size) return Status::Internal(fmt::format("STAT {}: the store's HEAD gave no size", name));
    known.exists = true;
    known.etag = std::string(s3::UnquoteEtag(reply.Header("etag")));
    known.version = VersionOf(*size, known.etag, HttpDateNs(reply.Header("last-modified")));
    known.checksum = Checksum::Parse(reply.Header(kChecksumHeader));
    if (previous && previous->etag == known.etag && !known.checksum) known.checksum = previous->checksum;
  } else if (reply.status == 404) {
    // A HEAD's 404 has no body to tell a missing key from a missing bucket.
    if (Status bucket = CheckBucket(); !bucket.ok()) return bucket;
    known.exists = false;
  } else {
    return s3::StatusForReply(reply.status, ErrorOf(reply), "STAT " + name);
  }
  known.checked = Clock::now();
  std::lock_guard lock(known_mutex_);
  if (auto it = known_.find(name); it != known_.end() && it->second.generation > generation) {
    return it->second;  // a write of this node finished meanwhile: it knows better
  }
  LearnLocked(name, known);
  return known;
}

Status S3Store::CheckBucket() {
  {
    std::lock_guard lock(known_mutex_);
    if (bucket_checked_ && Clock::now() - *bucket_checked_ < std::max(options_.revalidate_after, std::chrono::seconds(1))) {
      return bucket_status_;
    }
  }
  s3::Response reply = client_.Perform({.op = s3::Op::kHead, .method = "HEAD"});
  Status status;
  if (reply.status == 404) {
    status = s3::StatusForReply(404, {"NoSuchBucket", ""}, "bucket " + location_.bucket);
  } else if (reply.status != 200) {
    status = s3::StatusForReply(reply.status, ErrorOf(reply), "bucket " + location_.bucket);
  }
  std::lock_guard lock(known_mutex_);
  bucket_checked_ = Clock::now();
  bucket_status_ = status;
  return status;
}

Result<std::vector<StoredFile>> S3Store::List(std::string_view prefix) {
  std::vector<StoredFile> files;
  std::string token;
  for (std::size_t page = 0;; ++page) {
    std::vector<std::pair<std::string, std::string>> query = {
        {"list-type", "2"}, {"prefix", location_.prefix + std::string(prefix)}};
    if (!token.empty()) query.emplace_back("continuation-token", token);
    s3::Response reply = client_.Perform(
        {.op = s3::Op::kList, .method = "GET", .query = s3::CanonicalQuery(std::move(query))});
    if (reply.status != 200) {
      return s3::StatusForReply(reply.status, ErrorOf(reply), fmt::format("LIST {}", prefix));
    }
    Result<s3::ListPage> parsed = s3::ParseListPage(reply.body);
    if (!parsed.ok()) return parsed.status();
    for (s3::ObjectInfo& object : parsed->objects) {
      std::string_view name = object.key;
      if (!name.starts_with(location_.prefix)) continue;
      name.remove_prefix(location_.prefix.size());
      // Keys no ferry name can address ("a//b", "dir/", ".ferry/...") are not listed.
      if (!ObjectName::FromDecoded(name).ok()) continue;
      files.push_back({std::string(name), VersionOf(object.size, object.etag, object.mtime_ns)});
    }
    if (!parsed->truncated) break;
    if (parsed->next_token == token) return Status::Internal("the store's listing does not advance");
    token = std::move(parsed->next_token);
  }
  return files;
}

void S3Store::ExpirePartials(std::chrono::seconds max_age) {
  std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  std::int64_t max_age_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(max_age).count();
  std::string key_marker, id_marker;
  for (int page = 0; page < 1000; ++page) {
    std::vector<std::pair<std::string, std::string>> query = {{"uploads", ""}, {"prefix", location_.prefix}};
    if (!key_marker.empty()) {
      query.emplace_back("key-marker", key_marker);
      query.emplace_back("upload-id-marker", id_marker);
    }
    s3::Response reply = client_.Perform(
        {.op = s3::Op::kList, .method = "GET", .query = s3::CanonicalQuery(std::move(query))});
    Result<s3::UploadsPage> parsed = reply.status == 200
                                         ? s3::ParseUploadsPage(reply.body)
                                         : Result<s3::UploadsPage>(s3::StatusForReply(
                                               reply.status, ErrorOf(reply), "list uploads"));
    if (!parsed.ok()) {
      spdlog::warn("store: abandoned uploads not swept: {}", parsed.status().message());
      return;
    }
    for (const s3::PendingUpload& upload : parsed->uploads) {
      // Not this node's uploads in progress, nor one whose age the store did not say.
      if (upload.initiated_ns == 0 || now_ns - upload.initiated_ns < max_age_ns ||
          UploadActive(upload.upload_id)) {
        continue;
      }
      s3::Response aborted = client_.Perform(
          {.op = s3::Op::kDelete, .method = "DELETE", .key = upload.key,
           .query = s3::CanonicalQuery({{"uploadId", upload.upload_id}})});
      spdlog::info("store: abandoned upload of {} aborted (HTTP {})", upload.key, aborted.status);
    }
    if (!parsed->truncated) return;
    key_marker = parsed->next_key_marker;
    id_marker = parsed->next_upload_id_marker;
  }
}

Result<std::size_t> S3ReadFile::ReadAt(std::uint64_t offset, std::span<char> out) {
  if (offset >= version_.size || out.empty()) return std::size_t{0};
  bool inside = offset >= window_start_ && offset < window_start_ + window_bytes_;
  if (!inside) {
    // Forward from the last window: the reader streams, so ask for more at a time.
    next_window_ = offset == window_start_ + window_bytes_ && window_bytes_ > 0
                       ? std::min(next_window_ * 2, kMaxReadWindow)
                       : kFirstReadWindow;
    std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(std::max(out.size(), next_window_), version_.size - offset));
    window_.resize(want);
    s3::Request request{.op = s3::Op::kGet, .method = "GET", .key = key_,
                        .headers = {fmt::format("If-Match: \"{}\"", etag_)},
                        .range = std::make_pair(offset, offset + want - 1), .into = window_};
    s3::Response reply = store_.client().Perform(request);
    window_bytes_ = 0;
    if (reply.status == 412) {
      store_.Forget(name_);
      return Status::Conflict(fmt::format("{} changed in the store while it was read", key_));
    }
    if ((reply.status != 206 && reply.status != 200) || reply.into_bytes == 0) {
      return s3::StatusForReply(reply.status, S3Store::ErrorOf(reply), "GET " + key_);
    }
    // A store that ignored If-Match must not mix versions.
    std::string_view etag = s3::UnquoteEtag(reply.Header("etag"));
    if (!etag.empty() && etag != etag_) {
      store_.Forget(name_);
      return Status::Conflict(fmt::format("{} changed in the store while it was read", key_));
    }
    window_start_ = offset;
    window_bytes_ = reply.into_bytes;
  }
  std::size_t skip = static_cast<std::size_t>(offset - window_start_);
  std::size_t bytes = std::min(out.size(), window_bytes_ - skip);
  std::memcpy(out.data(), window_.data() + skip, bytes);
  return bytes;
}

S3WriteFile::~S3WriteFile() {
  if (committed_ || !multipart_) return;
  // Aborted by whoever finishes last: this, or the last part still in flight. Never blocks.
  std::lock_guard lock(multipart_->mutex);
  multipart_->abandoned = true;
  if (multipart_->in_flight > 0) return;
  S3Store& store = store_;
  std::string key = store.Key(name_);
  store.workers().Post([&store, key, id = multipart_->upload_id] {
    store.client().Perform({.op = s3::Op::kDelete, .method = "DELETE", .key = key,
                            .query = s3::CanonicalQuery({{"uploadId", id}})});
    store.UploadEnded(id);
  });
}

Status S3WriteFile::Append(std::string_view bytes) {
  const std::size_t part_size = store_.options().part_size;
  size_ += bytes.size();
  while (!bytes.empty()) {
    if (buffer_.size() == part_size) {  // full, and more follows: it goes up as a part
      if (Status sent = SendPart(std::move(buffer_)); !sent.ok()) return sent;
      buffer_ = std::string();
    }
    // Once multipart, each part is allocated once; before, appends grow the buffer.
    if (buffer_.empty() && multipart_) buffer_.reserve(part_size);
    std::size_t take = std::min(bytes.size(), part_size - buffer_.size());
    buffer_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
  }
  return Status::Ok();
}

Status S3WriteFile::SendPart(std::string part) {
  S3Store& store = store_;
  std::string key = store.Key(name_);
  if (!multipart_) {
    // The checksum must ride with the first request of a multipart upload: S3 cannot add
    // metadata later without a copy (and libcurl 7.88 cannot sign a conditional copy).
    s3::Request create{.op = s3::Op::kPost, .method = "POST", .key = key,
                       .query = s3::CanonicalQuery({{"uploads", ""}})};
    if (announced_) create.headers.push_back(fmt::format("{}: {}", kChecksumHeader, announced_->ToString()));
    s3::Response reply = store.client().Perform(create);
    if (reply.status != 200) return s3::StatusForReply(reply.status, S3Store::ErrorOf(reply), "PUT " + name_);
    Result<std::string> id = s3::ParseUploadId(reply.body);
    if (!id.ok()) return id.status();
    multipart_ = std::make_shared<Multipart>();
    multipart_->upload_id = std::move(*id);
    store.UploadStarted(multipart_->upload_id);
  }
  std::unique_lock lock(multipart_->mutex);
  // Memory stays bounded: at most parallel_parts parts are in the air.
  multipart_->changed.wait(lock, [&] {
    return multipart_->in_flight < store.options().parallel_parts || !multipart_->error.ok();
  });
  if (!multipart_->error.ok()) return multipart_->error;
  std::size_t number = multipart_->etags.size() + 1;
  if (number > kMaxParts) {
    return Status::TooLarge(fmt::format("{}: more than 10,000 parts of {} bytes (raise --s3-part-size)",
                                        name_, store.options().part_size));
  }
  multipart_->etags.emplace_back();
  ++multipart_->in_flight;
  std::string query = s3::CanonicalQuery(
      {{"partNumber", std::to_string(number)}, {"uploadId", multipart_->upload_id}});
  store.workers().Post([&store, state = multipart_, key, query, number, name = name_,
                        body = std::make_shared<std::string>(std::move(part))] {
    bool abandoned = false;
    {
      std::lock_guard guard(state->mutex);
      abandoned = state->abandoned;  // the client went away: the part is not worth sending
    }
    s3::Response reply;
    if (!abandoned) {
      reply = store.client().Perform(
          {.op = s3::Op::kPut, .method = "PUT", .key = key, .query = query, .body = *body});
    }
    std::lock_guard guard(state->mutex);
    if (reply.status == 200 && !reply.Header("etag").empty()) {
      state->etags[number - 1] = std::string(s3::UnquoteEtag(reply.Header("etag")));
    } else if (state->error.ok() && !abandoned) {
      state->error = s3::StatusForReply(reply.status, S3Store::ErrorOf(reply),
                                        fmt::format("PUT {} (part {})", name, number));
    }
    if (--state->in_flight == 0 && state->abandoned) {
      store.client().Perform({.op = s3::Op::kDelete, .method = "DELETE", .key = key,
                              .query = s3::CanonicalQuery({{"uploadId", state->upload_id}})});
      store.UploadEnded(state->upload_id);
    }
    state->changed.notify_all();
  });
  return Status::Ok();
}

Status S3WriteFile::CompleteMultipart(Known& known) {
  if (Status sent = SendPart(std::move(buffer_)); !sent.ok()) return sent;
  std::vector<std::string> etags;
  {
    std::unique_lock lock(multipart_->mutex);
    multipart_->changed.wait(lock, [&] { return multipart_->in_flight == 0; });
    if (!multipart_->error.ok()) return multipart_->error;
    etags = multipart_->etags;
  }
  std::string xml = s3::CompleteUploadXml(etags);
  s3::Response reply = store_.client().Perform(
      {.op = s3::Op::kPost, .method = "POST", .key = store_.Key(name_),
       .query = s3::CanonicalQuery({{"uploadId", multipart_->upload_id}}), .body = xml});
  // S3 may answer 200 and then an <Error> in the body.
  s3::ErrorBody error = reply.error();
  if (reply.status != 200 || !error.code.empty()) {
    return s3::StatusForReply(reply.status == 200 ? 500 : reply.status, S3Store::ErrorOf(reply),
                              "PUT " + name_);
  }
  committed_ = true;  // the parts are an object now: nothing to abort
  store_.UploadEnded(multipart_->upload_id);
  known.etag = s3::ParseResultEtag(reply.body).value_or(std::string());
  known.version = VersionOf(size_, known.etag, HttpDateNs(reply.Header("date")));
  return Status::Ok();
}

Result<FileVersion> S3WriteFile::Commit(const Checksum& checksum) {
  std::string key = store_.Key(name_);
  std::string checksum_header = fmt::format("{}: {}", kChecksumHeader, checksum.ToString());
  Known known{.exists = true, .checksum = checksum};
  if (!multipart_) {
    s3::Response reply = store_.client().Perform({.op = s3::Op::kPut, .method = "PUT", .key = key,
                                                  .headers = {checksum_header}, .body = buffer_});
    if (reply.status != 200) return s3::StatusForReply(reply.status, S3Store::ErrorOf(reply), "PUT " + name_);
    known.etag = std::string(s3::UnquoteEtag(reply.Header("etag")));
    known.version = VersionOf(size_, known.etag, HttpDateNs(reply.Header("date")));
  } else {
    if (Status completed = CompleteMultipart(known); !completed.ok()) return completed;
    // Without an announced checksum the object carries none: this node remembers it, other
    // readers compute it once (docs/scale-out.md).
    if (announced_ != checksum) spdlog::debug("store: {} stored without its checksum", name_);
    if (known.etag.empty()) {  // no ETag in the reply: the next look asks the store
      store_.Forget(name_);
      return known.version;
    }
  }
  committed_ = true;
  store_.LearnWritten(name_, known);
  return known.version;
}

}  // namespace

namespace {

std::string Environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

Result<s3::Credentials> FindCredentials(const S3StoreOptions& options) {
  if (!options.access_key.empty()) return s3::Credentials{options.access_key, options.secret_key};
  s3::Credentials from_environment{Environment("AWS_ACCESS_KEY_ID"), Environment("AWS_SECRET_ACCESS_KEY")};
  if (!from_environment.access_key.empty() && !from_environment.secret_key.empty()) {
    return from_environment;
  }
  std::filesystem::path file = options.credentials_file;
  if (file.empty()) file = Environment("AWS_SHARED_CREDENTIALS_FILE");
  if (file.empty() && !Environment("HOME").empty()) file = Environment("HOME") + "/.aws/credentials";
  std::string profile = Environment("AWS_PROFILE");
  if (profile.empty()) profile = "default";
  std::ifstream in(file);
  if (file.empty() || !in) {
    return Status::BadRequest(fmt::format(
        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give "
        "--s3-credentials-file (tried '{}')", file.string()));
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Result<s3::Credentials> parsed = s3::ParseCredentialsFile(text, profile);
  if (!parsed.ok()) return Status::BadRequest(fmt::format("{}: {}", file.string(), parsed.status().message()));
  return parsed;
}

}  // namespace

Result<std::unique_ptr<Store>> OpenS3Store(const S3StoreOptions& options) {
  Result<s3::Location> location = s3::ParseLocation(options.url);
  if (!location.ok()) return location.status();
  if (options.endpoint.empty()) return Status::BadRequest("an S3 store needs an endpoint URL");
  if (options.part_size < (5u << 20) || options.part_size > (5ull << 30)) {
    return Status::BadRequest("--s3-part-size must be 5M to 5G (S3's part limits)");
  }
  if (options.parallel_parts == 0) return Status::BadRequest("--s3-parallel-parts must be > 0");
  if (options.stall_timeout.count() == 0) return Status::BadRequest("--s3-timeout must be > 0");
  Result<s3::Credentials> credentials = FindCredentials(options);
  if (!credentials.ok()) return credentials.status();
  return std::unique_ptr<Store>(
      std::make_unique<S3Store>(options, std::move(*location), std::move(*credentials)));
}

}  // namespace ferry::store
