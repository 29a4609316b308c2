#include "client/transfers.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

namespace ferry::client {
namespace {

namespace fs = std::filesystem;

// The local file's xxh128, or nullopt if it is not a readable regular file.
std::optional<Checksum> LocalChecksum(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st;
  std::optional<Checksum> checksum;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    Result<Checksum> computed = ChecksumFd(fd, ChecksumAlgo::kXxh128, 0, static_cast<std::uint64_t>(st.st_size));
    if (computed.ok()) checksum = *computed;
  }
  ::close(fd);
  return checksum;
}

// Runs `transfer` over the jobs on `parallel` connections; each worker has its own Client.
std::vector<TransferResult> RunBatch(
    std::vector<TransferJob> jobs, const BatchOptions& options, std::unique_ptr<Client> connected,
    const std::function<TransferResult(Client&, const TransferJob&)>& transfer) {
  std::vector<std::optional<TransferResult>> results(jobs.size());
  std::atomic<std::size_t> next{0};
  std::mutex done_mutex;
  auto worker = [&](std::unique_ptr<Client> client) {
    for (std::size_t i = next++; i < jobs.size(); i = next++) {
      std::optional<TransferResult>& result = results[i];
      if (!client) {
        auto fresh = Client::Connect(options.client);
        if (!fresh.ok()) {
          result = TransferResult{jobs[i], fresh.status()};
        } else {
          client = std::move(*fresh);
        }
      }
      if (client) result = transfer(*client, jobs[i]);
      // A broken connection is not reused: the next file gets a fresh one.
      if (client && !client->in_step()) client.reset();
      if (options.progress) options.progress->FileDone(jobs[i].size);
      std::lock_guard lock(done_mutex);
      if (options.on_done) options.on_done(*result);
    }
  };
  unsigned threads = std::max(1u, std::min<unsigned>(options.parallel, static_cast<unsigned>(jobs.size())));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker, nullptr);
  worker(std::move(connected));
  for (std::thread& t : pool) t.join();
  std::vector<TransferResult> done;
  done.reserve(results.size());
  for (auto& result : results) done.push_back(std::move(*result));
  return done;
}

Progress ProgressFor(const BatchOptions& options, const TransferJob& job) {
  if (options.progress == nullptr || !options.progress->enabled()) return nullptr;
  return [&options, &job](std::uint64_t done) { options.progress->Update(job.name.str(), done, job.size); };
}

}  // namespace

bool HasGlob(std::string_view text) { return text.find_first_of("*?[") != std::string_view::npos; }

Result<std::vector<TransferJob>> PlanDownloads(Client& client, const std::string& what,
                                               bool recursive, const std::string& destination) {
  std::vector<TransferJob> jobs;
  if (!recursive && !HasGlob(what)) {
    Result<ObjectName> name = ObjectName::FromDecoded(what);
    if (!name.ok()) return name.status();
    std::string local = destination.empty() ? fs::path(name->str()).filename().string() : destination;
    jobs.push_back({std::move(*name), local, 0});
    return jobs;
  }
  fs::path folder = destination.empty() ? fs::path(".") : fs::path(destination);
  std::string pattern = what;
  while (pattern.ends_with('/')) pattern.pop_back();
  // List only what can match: up to the last '/' before the first glob character.
  std::size_t glob = recursive ? pattern.size() : pattern.find_first_of("*?[");
  std::size_t slash = pattern.rfind('/', glob);
  std::string parent = slash == std::string::npos ? "" : pattern.substr(0, slash + 1);
  auto entries = client.List(recursive ? pattern + "/" : parent);
  if (!entries.ok()) return entries.status();
  std::map<fs::path, std::string> targets;
  for (protocol::FileEntry& entry : *entries) {
    fs::path local;
    if (recursive) {
      // Whole segments only: "a/b" brings "a/b/x", never "a/bc" (nor a name that would
      // climb out of DEST).
      if (!entry.name.starts_with(pattern + "/")) continue;
      local = folder / entry.name.substr(parent.size());  // "a/b" -> DEST/b/...
    } else {
      if (::fnmatch(pattern.c_str(), entry.name.c_str(), FNM_PATHNAME | FNM_PERIOD) != 0) continue;
      local = folder / fs::path(entry.name).filename();
    }
    Result<ObjectName> name = ObjectName::FromDecoded(entry.name);
    if (!name.ok()) continue;  // the server lists only valid names
    auto [earlier, fresh] = targets.emplace(local, entry.name);
    if (!fresh) {
      return Status::BadRequest(fmt::format("{} and {} would both land in {}", earlier->second,
                                            entry.name, local.string()));
    }
    jobs.push_back({std::move(*name), local, entry.size});
  }
  if (jobs.empty()) return Status::NotFound(fmt::format("nothing on the server matches '{}'", what));
  return jobs;
}

Result<std::vector<TransferJob>> PlanUploadTree(const fs::path& folder, const std::string& prefix) {
  std::error_code error;
  if (!fs::is_directory(folder, error)) {
    return Status::BadRequest(fmt::format("{} is not a folder", folder.string()));
  }
  fs::path root = fs::absolute(folder, error).lexically_normal();
  if (root.filename().empty()) root = root.parent_path();  // "photos/" -> "photos"
  std::string base = prefix;
  if (!base.empty() && !base.ends_with('/')) base += '/';
  base += root.filename().string();
  std::vector<TransferJob> jobs;
  for (auto it = fs::recursive_directory_iterator(root, error); !error && it != fs::recursive_directory_iterator();
       it.increment(error)) {
    if (!it->is_regular_file(error)) continue;  // folders, links to elsewhere, devices
    std::string relative = it->path().lexically_relative(root).generic_string();
    Result<ObjectName> name = ObjectName::FromDecoded(base + "/" + relative);
    if (!name.ok()) {
      return Status::BadRequest(fmt::format("{}: {}", it->path().string(), name.status().message()));
    }
    jobs.push_back({std::move(*name), it->path(), static_cast<std::uint64_t>(it->file_size(error))});
  }
  if (error) return Status::BadRequest(fmt::format("{}: {}", folder.string(), error.message()));
  std::sort(jobs.begin(), jobs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return jobs;
}

std::vector<TransferResult> RunDownloads(std::vector<TransferJob> jobs, const BatchOptions& options,
                                         std::unique_ptr<Client> connected) {
  return RunBatch(std::move(jobs), options, std::move(connected), [&options](Client& client, const TransferJob& job) {
    TransferResult result{job};
    if (options.skip_existing && job.local != "-") {
      std::error_code error;
      if (fs::is_regular_file(job.local, error)) {
        Result<protocol::FileEntry> remote = client.Stat(job.name);
        if (remote.ok() && fs::file_size(job.local, error) == remote->size &&
            LocalChecksum(job.local) == remote->checksum) {
          result.skipped = true;
          result.checksum = *remote->checksum;
          return result;
        }
      }
    }
    if (!job.local.parent_path().empty() && job.local != "-") {
      std::error_code error;
      fs::create_directories(job.local.parent_path(), error);
    }
    auto head = DownloadFile(client, job.name, job.local.string(), ProgressFor(options, job), &result.info);
    result.status = head.status();
    if (head.ok()) {
      result.checksum = head->checksum;
      result.job.size = head->size;
    }
    return result;
  });
}

std::vector<TransferResult> RunUploads(std::vector<TransferJob> jobs, const BatchOptions& options,
                                       std::unique_ptr<Client> connected) {
  return RunBatch(std::move(jobs), options, std::move(connected), [&options](Client& client, const TransferJob& job) {
    TransferResult result{job};
    if (options.skip_existing) {
      Result<protocol::FileEntry> remote = client.Stat(job.name);
      if (remote.ok() && remote->size == job.size) {
        std::optional<Checksum> local = LocalChecksum(job.local);
        if (local && local == remote->checksum) {
          result.skipped = true;
          result.checksum = *local;
          return result;
        }
      }
    }
    auto done = UploadFile(client, job.local.string(), job.name, ProgressFor(options, job), &result.info);
    result.status = done.status();
    if (done.ok()) {
      result.checksum = done->checksum;
      result.job.size = done->size;
    }
    return result;
  });
}

}  // namespace ferry::client
