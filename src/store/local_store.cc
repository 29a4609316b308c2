// The local-directory store.
//
// Confinement: every path is opened relative to the root's descriptor with openat2 and
// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, so neither "..", an absolute symlink nor a symlink
// chain leads outside the root (the kernel says EXDEV, which becomes 403). Special files are
// opened O_NONBLOCK and refused after fstat, so a FIFO can never hang a reader.
//
// Atomic writes: bytes go to ROOT/.ferry/tmp/put-<random>, then fsync, checksum xattr,
// renameat over the target, fsync of the target's folder. A crash leaves either the old file
// or the new one, plus at most a temporary file that the next start removes.
//
// Checksums are remembered in the xattr user.ferry.checksum as "<size> <mtime_ns> <checksum>":
// it travels with the inode, survives restarts, and is ignored as soon as size or mtime say
// the content changed. Where xattrs are unavailable, an in-memory map keyed by inode does it.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <map>
#include <mutex>
#include <utility>

#include <fmt/format.h>

#include "common/io.h"
#include "store/store.h"

namespace ferry::store {
namespace {

constexpr const char* kChecksumXattr = "user.ferry.checksum";
constexpr std::string_view kTmpFolder = ".ferry/tmp";
constexpr std::string_view kPartialFolder = ".ferry/partial";
constexpr int kMaxListDepth = 256;

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

FileVersion VersionOf(const struct stat& st) {
  return {static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<std::uint64_t>(st.st_ino), static_cast<std::uint64_t>(st.st_dev),
          static_cast<std::uint64_t>(st.st_blocks) * 512};
}

// openat2 beneath `dir`; falls back to refusing every symlink where openat2 is missing.
int OpenBeneath(int dir, const std::string& path, int flags, mode_t mode = 0) {
  static std::atomic<bool> have_openat2{true};
  if (have_openat2.load(std::memory_order_relaxed)) {
    struct open_how how = {};
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    while (true) {
      long fd = ::syscall(SYS_openat2, dir, path.c_str(), &how, sizeof(how));
      if (fd >= 0) return static_cast<int>(fd);
      if (errno == EINTR || errno == EAGAIN) continue;  // EAGAIN: a rename raced the lookup
      if (errno != ENOSYS) return -1;
      have_openat2.store(false, std::memory_order_relaxed);
      break;
    }
  }
  // Component by component, no symlink followed anywhere: stricter than RESOLVE_BENEATH.
  Fd current(::dup(dir));
  std::size_t start = 0;
  while (true) {
    std::size_t slash = path.find('/', start);
    std::string part = path.substr(start, slash == std::string::npos ? slash : slash - start);
    bool last = slash == std::string::npos;
    int next = ::openat(current.get(), part.c_str(),
                        (last ? flags : O_DIRECTORY | O_RDONLY) | O_NOFOLLOW | O_CLOEXEC, mode);
    if (next < 0) return -1;
    current = Fd(next);
    if (last) return current.release();
    start = slash + 1;
  }
}

std::pair<std::string, std::string> SplitParent(const std::string& name) {
  std::size_t slash = name.rfind('/');
  if (slash == std::string::npos) return {"", name};
  return {name.substr(0, slash), name.substr(slash + 1)};
}

std::string RandomHex() {
  unsigned char bytes[8];
  if (::getrandom(bytes, sizeof(bytes), 0) != sizeof(bytes)) {
    auto now = static_cast<unsigned long long>(::time(nullptr)) ^ static_cast<unsigned>(::getpid());
    return fmt::format("{:016x}", now);
  }
  std::string hex;
  for (unsigned char b : bytes) hex += fmt::format("{:02x}", b);
  return hex;
}

Status FsyncFd(int fd, std::string_view what) {
  if (::fsync(fd) != 0) return PosixError(errno, what);
  return Status::Ok();
}

class LocalStore;

class LocalReadFile final : public ReadFile {
 public:
  LocalReadFile(Fd fd, FileVersion version) : fd_(std::move(fd)), version_(version) {}
  const FileVersion& version() const override { return version_; }
  int fd() const override { return fd_.get(); }
  Result<std::size_t> ReadAt(std::uint64_t offset, std::span<char> out) override {
    while (true) {
      ssize_t got = ::pread(fd_.get(), out.data(), out.size(), static_cast<off_t>(offset));
      if (got >= 0) return static_cast<std::size_t>(got);
      if (errno != EINTR) return PosixError(errno, "read");
    }
  }

 private:
  Fd fd_;
  FileVersion version_;
};

class LocalWriteFile final : public WriteFile {
 public:
  // `folder`: the private folder `tmp_name` is in (tmp, or partial for a resumable write,
  // which `resumed` bytes were already written to and which is kept if not committed).
  // `parent`: the folder the file goes into, or none if it does not exist yet (made at
  // Commit, so that an upload that fails leaves no empty folders behind).
  LocalWriteFile(LocalStore& store, Fd file, Fd parent, std::string leaf, int folder,
                 std::string tmp_name, std::string name, std::optional<std::uint64_t> resumed)
      : store_(store), file_(std::move(file)), parent_(std::move(parent)), leaf_(std::move(leaf)),
        folder_(folder), tmp_name_(std::move(tmp_name)), name_(std::move(name)),
        resumed_(resumed) {}
  ~LocalWriteFile() override;
  Status Append(std::string_view bytes) override;
  std::uint64_t resumed() const override { return resumed_.value_or(0); }
  void Discard() override { resumed_.reset(); }
  int fd() const override { return file_.get(); }
  Result<FileVersion> Commit(const Checksum& checksum) override;

 private:
  LocalStore& store_;
  Fd file_;
  Fd parent_;
  std::string leaf_;
  int folder_;            // the store's tmp or partial folder (owned by the store)
  std::string tmp_name_;  // relative to folder_
  std::string name_;
  std::optional<std::uint64_t> resumed_;  // set while the write is resumable (kept on abort)
  bool committed_ = false;
  static constexpr std::uint64_t kReserveCheckBytes = 4 << 20;
  std::uint64_t unchecked_bytes_ = 0;
};

class LocalStore final : public Store {
 public:
  LocalStore(LocalStoreOptions options, Fd root, Fd tmp, Fd partial)
      : options_(std::move(options)), root_(std::move(root)), tmp_(std::move(tmp)),
        partial_(std::move(partial)) {}

  Result<FileVersion> Stat(const ObjectName& name) override {
    Fd fd(OpenBeneath(root_.get(), name.str(), O_PATH));
    if (fd.get() < 0) return PosixError(errno, fmt::format("stat {}", name.str()));
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return PosixError(errno, fmt::format("stat {}", name.str()));
    if (Status s = CheckRegular(st, name); !s.ok()) return s;
    return VersionOf(st);
  }

  Result<std::vector<StoredFile>> List(std::string_view prefix) override {
    // Start the walk in the deepest folder the prefix names in full.
    std::size_t slash = prefix.rfind('/');
    std::string folder = slash == std::string_view::npos ? "" : std::string(prefix.substr(0, slash));
    // A fresh descriptor: readdir's position is shared by dup'ed ones.
    Fd dir(OpenBeneath(root_.get(), folder.empty() ? "." : folder, O_RDONLY | O_DIRECTORY));
    std::vector<StoredFile> files;
    if (dir.get() < 0) {
      if (errno == ENOENT || errno == ENOTDIR) return files;
      return PosixError(errno, fmt::format("list {}", folder));
    }
    std::string base = folder.empty() ? "" : folder + "/";
    if (Status s = Walk(std::move(dir), base, prefix, 0, files); !s.ok()) return s;
    std::sort(files.begin(), files.end(),
              [](const StoredFile& a, const StoredFile& b) { return a.name < b.name; });
    return files;
  }

  Result<std::unique_ptr<ReadFile>> OpenRead(const ObjectName& name) override {
    Fd fd(OpenBeneath(root_.get(), name.str(), O_RDONLY | O_NONBLOCK | O_NOCTTY));
    if (fd.get() < 0) return PosixError(errno, fmt::format("open {}", name.str()));
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return PosixError(errno, fmt::format("open {}", name.str()));
    if (Status s = CheckRegular(st, name); !s.ok()) return s;
    return std::unique_ptr<ReadFile>(std::make_unique<LocalReadFile>(std::move(fd), VersionOf(st)));
  }

  Result<std::unique_ptr<WriteFile>> BeginWrite(const ObjectName& name, std::string_view resume_key,
                                                const std::optional<Checksum>&) override {
    auto [folder, leaf] = SplitParent(name.str());
    Result<Fd> parent = OpenFolderIfAny(folder);
    if (!parent.ok()) return parent.status();
    struct stat st;
    if (parent->get() >= 0 && ::fstatat(parent->get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISDIR(st.st_mode)) return Status::Conflict(fmt::format("{} is a folder", name.str()));
      if (Status s = CheckReplaceable(st, name); !s.ok()) return s;
    }
    if (!resume_key.empty()) return BeginResumable(name, std::move(*parent), leaf, resume_key);
    std::string tmp_name = "put-" + RandomHex();
    // Read-write, so readers can follow the file as it grows (WriteFile::fd).
    Fd file(::openat(tmp_.get(), tmp_name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (file.get() < 0) return PosixError(errno, "create temporary file");
    return std::unique_ptr<WriteFile>(std::make_unique<LocalWriteFile>(
        *this, std::move(file), std::move(*parent), leaf, tmp_.get(), tmp_name, name.str(),
        std::nullopt));
  }

  void ExpirePartials(std::chrono::seconds max_age) override {
    int dir = ::openat(partial_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* stream = dir < 0 ? nullptr : ::fdopendir(dir);
    if (stream == nullptr) {
      if (dir >= 0) ::close(dir);
      return;
    }
    std::vector<std::string> old;
    auto now = std::chrono::system_clock::now().time_since_epoch();
    while (dirent* entry = ::readdir(stream)) {
      struct stat st;
      if (entry->d_name[0] == '.' || ::fstatat(partial_.get(), entry->d_name, &st, 0) != 0) continue;
      if (now - std::chrono::seconds(st.st_mtim.tv_sec) > max_age) old.emplace_back(entry->d_name);
    }
    ::closedir(stream);
    for (const std::string& leaf : old) {
      // A writer holds its partial locked: skip those in use, and those used since the scan.
      Fd file(::openat(partial_.get(), leaf.c_str(), O_RDONLY | O_CLOEXEC));
      struct stat st;
      if (file.get() < 0 || ::flock(file.get(), LOCK_EX | LOCK_NB) != 0 || ::fstat(file.get(), &st) != 0) continue;
      if (now - std::chrono::seconds(st.st_mtim.tv_sec) <= max_age) continue;
      ::unlinkat(partial_.get(), leaf.c_str(), 0);
    }
  }

  Status Remove(const ObjectName& name) override {
    auto [folder, leaf] = SplitParent(name.str());
    Result<Fd> parent = OpenFolder(folder, /*create=*/false);
    if (!parent.ok()) return parent.status();
    struct stat st;
    if (::fstatat(parent->get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return PosixError(errno, fmt::format("delete {}", name.str()));
    }
    if (S_ISDIR(st.st_mode)) return Status::Conflict(fmt::format("{} is a folder", name.str()));
    if (Status s = CheckReplaceable(st, name); !s.ok()) return s;
    if (::unlinkat(parent->get(), leaf.c_str(), 0) != 0) {
      return PosixError(errno, fmt::format("delete {}", name.str()));
    }
    if (options_.durable) return FsyncFd(parent->get(), "sync folder");
    return Status::Ok();
  }

  std::optional<Checksum> RememberedChecksum(ReadFile& file) override {
    const FileVersion& v = file.version();
    char value[160];
    ssize_t got = ::fgetxattr(file.fd(), kChecksumXattr, value, sizeof(value) - 1);
    if (got > 0) {
      value[got] = '\0';
      unsigned long long size = 0;
      long long mtime_ns = 0;
      char text[120];
      if (std::sscanf(value, "%llu %lld %119s", &size, &mtime_ns, text) == 3 &&
          size == v.size && mtime_ns == v.mtime_ns) {
        return Checksum::Parse(text);
      }
      return std::nullopt;
    }
    std::lock_guard lock(memory_mutex_);
    auto it = memory_.find({v.device, v.inode});
    if (it != memory_.end() && it->second.first == v) return it->second.second;
    return std::nullopt;
  }

  void RememberChecksum(ReadFile& file, const Checksum& checksum) override {
    RememberChecksumOfFd(file.fd(), file.version(), checksum);
  }

  void RememberChecksumOfFd(int fd, const FileVersion& v, const Checksum& checksum) {
    std::string value = fmt::format("{} {} {}", v.size, v.mtime_ns, checksum.ToString());
    if (::fsetxattr(fd, kChecksumXattr, value.data(), value.size(), 0) == 0) return;
    std::lock_guard lock(memory_mutex_);
    memory_[{v.device, v.inode}] = {v, checksum};
  }

  bool durable() const { return options_.durable; }

  // The folder of `name`, made if missing (beneath the root, as everything).
  Result<Fd> MakeFolderOf(const std::string& name) {
    return OpenFolder(SplitParent(name).first, /*create=*/true);
  }

  Status Reserve(std::uint64_t bytes) override {
    if (options_.min_free == 0) return Status::Ok();
    struct statvfs fs;
    if (::fstatvfs(root_.get(), &fs) != 0) return PosixError(errno, "statvfs");
    // f_bavail: what an unprivileged writer may still use (root's reserved blocks excluded).
    std::uint64_t free = std::uint64_t{fs.f_bavail} * fs.f_frsize;
    if (free >= options_.min_free && free - options_.min_free >= bytes) return Status::Ok();
    return Status::InsufficientStorage(fmt::format(
        "not enough space: {} bytes free, {} needed plus the reserve of {} (--min-free)", free,
        bytes, options_.min_free));
  }

 private:
  Result<std::unique_ptr<WriteFile>> BeginResumable(const ObjectName& name, Fd parent,
                                                    const std::string& leaf,
                                                    std::string_view resume_key) {
    for (char c : resume_key) {
      if (!std::isalnum(static_cast<unsigned char>(c))) {
        return Status::Internal("a resume key is letters and digits");
      }
    }
    std::string partial_name(resume_key);
    Fd file;
    for (int attempt = 0;; ++attempt) {
      file = Fd(::openat(partial_.get(), partial_name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
      if (file.get() < 0) return PosixError(errno, "open the partial upload");
      // One writer per partial: a second client resuming the same upload would interleave.
      if (::flock(file.get(), LOCK_EX | LOCK_NB) != 0) {
        return Status::Conflict(fmt::format("{}: the same upload is in progress", name.str()));
      }
      // Locked, but still the file under that name? Its last holder (a commit, a discard, an
      // expiry) may have unlinked it between our open and our lock.
      struct stat held, named;
      if (::fstat(file.get(), &held) == 0 && held.st_nlink > 0 &&
          ::fstatat(partial_.get(), partial_name.c_str(), &named, 0) == 0 &&
          held.st_ino == named.st_ino) {
        break;
      }
      if (attempt == 3) return Status::Busy("the partial upload keeps changing; retry");
    }
    off_t end = ::lseek(file.get(), 0, SEEK_END);
    if (end < 0) return PosixError(errno, "open the partial upload");
    ::futimens(file.get(), nullptr);  // in use: not expired now
    return std::unique_ptr<WriteFile>(std::make_unique<LocalWriteFile>(
        *this, std::move(file), std::move(parent), leaf, partial_.get(), partial_name,
        name.str(), static_cast<std::uint64_t>(end)));
  }

  static Status CheckRegular(const struct stat& st, const ObjectName& name) {
    if (S_ISREG(st.st_mode)) return Status::Ok();
    if (S_ISDIR(st.st_mode)) return Status::NotFound(fmt::format("{} is a folder", name.str()));
    return Status::Forbidden(fmt::format("{} is not a regular file", name.str()));
  }

  // What a PUT may replace and a DEL may remove, given the name's own entry (`st`, not
  // followed): a regular file, or a symlink that stays beneath the root (the link itself is
  // replaced or removed). A special file or a symlink leading outside is 403 as for reads:
  // renaming over it or unlinking it would reach nothing outside, but it is not a file ferry
  // serves, so ferry leaves it alone (docs/protocol.md, "Names").
  Status CheckReplaceable(const struct stat& st, const ObjectName& name) {
    if (S_ISLNK(st.st_mode)) {
      Fd target(OpenBeneath(root_.get(), name.str(), O_PATH));
      if (target.get() < 0 && errno != ENOENT) {
        return PosixError(errno, fmt::format("replace {}", name.str()));
      }
      return Status::Ok();  // inside (or dangling inside)
    }
    if (!S_ISREG(st.st_mode)) {
      return Status::Forbidden(fmt::format("{} is not a regular file", name.str()));
    }
    return Status::Ok();
  }

  // The folder of a new file if it exists; an invalid Fd if it (or one above it) does not.
  Result<Fd> OpenFolderIfAny(const std::string& folder) {
    if (folder.empty()) return Fd(::dup(root_.get()));
    Fd fd(OpenBeneath(root_.get(), folder, O_RDONLY | O_DIRECTORY));
    if (fd.get() >= 0 || errno == ENOENT) return fd;
    return PosixError(errno, fmt::format("open folder {}", folder));
  }

  // Opens (and with `create`, makes) a folder beneath the root. "" is the root itself.
  Result<Fd> OpenFolder(const std::string& folder, bool create) {
    if (folder.empty()) return Fd(::dup(root_.get()));
    Fd fd(OpenBeneath(root_.get(), folder, O_RDONLY | O_DIRECTORY));
    if (fd.get() >= 0) return fd;
    if (errno != ENOENT || !create) return PosixError(errno, fmt::format("open folder {}", folder));
    // Make the missing folders one by one, each opened beneath its parent.
    Fd current(::dup(root_.get()));
    std::size_t start = 0;
    while (start <= folder.size()) {
      std::size_t slash = folder.find('/', start);
      if (slash == std::string::npos) slash = folder.size();
      std::string part = folder.substr(start, slash - start);
      bool made = ::mkdirat(current.get(), part.c_str(), 0755) == 0;
      if (!made && errno != EEXIST) return PosixError(errno, fmt::format("make folder {}", folder));
      if (made && options_.durable) {
        if (Status s = FsyncFd(current.get(), "sync folder"); !s.ok()) return s;
      }
      Fd next(OpenBeneath(current.get(), part, O_RDONLY | O_DIRECTORY));
      if (next.get() < 0) return PosixError(errno, fmt::format("open folder {}", folder));
      current = std::move(next);
      start = slash + 1;
    }
    return current;
  }

  Status Walk(Fd dir, const std::string& base, std::string_view prefix, int depth,
              std::vector<StoredFile>& out) {
    if (depth > kMaxListDepth) return Status::Ok();
    int dir_fd = dir.get();
    DIR* stream = ::fdopendir(dir.release());
    if (stream == nullptr) return PosixError(errno, "list");
    std::vector<std::string> subfolders;
    while (dirent* entry = ::readdir(stream)) {
      std::string_view leaf = entry->d_name;
      if (leaf == "." || leaf == "..") continue;
      if (base.empty() && leaf == kPrivateFolder) continue;
      std::string name = base + std::string(leaf);
      // Only names that can still match the prefix are worth a look.
      std::size_t common = std::min(name.size(), prefix.size());
      if (name.compare(0, common, prefix.substr(0, common)) != 0) continue;
      struct stat st;
      if (::fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // raced
      if (S_ISDIR(st.st_mode)) {
        subfolders.push_back(std::string(leaf));
      } else if (S_ISREG(st.st_mode) && name.size() >= prefix.size() && ValidateName(name).ok()) {
        out.push_back({std::move(name), VersionOf(st)});
      }
    }
    for (const std::string& leaf : subfolders) {
      Fd sub(::openat(dir_fd, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub.get() < 0) continue;
      if (Status s = Walk(std::move(sub), base + leaf + "/", prefix, depth + 1, out); !s.ok()) {
        ::closedir(stream);
        return s;
      }
    }
    ::closedir(stream);
    return Status::Ok();
  }

  LocalStoreOptions options_;
  Fd root_;
  Fd tmp_;
  Fd partial_;
  std::mutex memory_mutex_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::pair<FileVersion, Checksum>> memory_;
};

LocalWriteFile::~LocalWriteFile() {
  if (!committed_ && !resumed_) ::unlinkat(folder_, tmp_name_.c_str(), 0);
}

Status LocalWriteFile::Append(std::string_view bytes) {
  // A write of unannounced size (or one of many at once) is checked against the reserve as
  // it grows, every few MiB: statvfs is cheap, but not free.
  unchecked_bytes_ += bytes.size();
  if (unchecked_bytes_ >= kReserveCheckBytes) {
    unchecked_bytes_ = 0;
    if (Status s = store_.Reserve(bytes.size()); !s.ok()) return s;
  }
  return WriteAll(file_.get(), bytes, fmt::format("write {}", name_));
}

Result<FileVersion> LocalWriteFile::Commit(const Checksum& checksum) {
  if (store_.durable()) {
    if (Status s = FsyncFd(file_.get(), fmt::format("sync {}", name_)); !s.ok()) return s;
  }
  struct stat st;
  if (::fstat(file_.get(), &st) != 0) return PosixError(errno, fmt::format("stat {}", name_));
  FileVersion version = VersionOf(st);
  store_.RememberChecksumOfFd(file_.get(), version, checksum);
  // The xattr may take a block of its own: count what the file occupies with it.
  if (::fstat(file_.get(), &st) == 0) version.allocated_bytes = VersionOf(st).allocated_bytes;
  if (parent_.get() < 0) {
    Result<Fd> made = store_.MakeFolderOf(name_);
    if (!made.ok()) return made.status();
    parent_ = std::move(*made);
  }
  if (::renameat(folder_, tmp_name_.c_str(), parent_.get(), leaf_.c_str()) != 0) {
    if (errno == EXDEV) {
      return Status::Internal(fmt::format("{}: its folder is on another file system", name_));
    }
    return PosixError(errno, fmt::format("rename into {}", name_));
  }
  committed_ = true;
  if (store_.durable()) {
    if (Status s = FsyncFd(parent_.get(), "sync folder"); !s.ok()) return s;
  }
  return version;
}

// Removes what interrupted writes of an earlier run left in the tmp folder.
void RemoveLeftovers(int tmp_fd) {
  DIR* stream = ::fdopendir(::openat(tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (stream == nullptr) return;
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(stream)) {
    std::string_view leaf = entry->d_name;
    if (leaf != "." && leaf != "..") names.emplace_back(leaf);
  }
  ::closedir(stream);
  for (const std::string& leaf : names) ::unlinkat(tmp_fd, leaf.c_str(), 0);
}

}  // namespace

Result<std::unique_ptr<Store>> OpenLocalStore(const LocalStoreOptions& options) {
  std::error_code error;
  std::filesystem::create_directories(options.root, error);
  if (error) {
    return Status::Internal(fmt::format("make {}: {}", options.root.string(), error.message()));
  }
  Fd root(::open(options.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return PosixError(errno, fmt::format("open {}", options.root.string()));
  for (std::string_view folder : {kPrivateFolder, kTmpFolder, kPartialFolder}) {
    std::string path(folder);
    if (::mkdirat(root.get(), path.c_str(), 0700) != 0 && errno != EEXIST) {
      return PosixError(errno, fmt::format("make {}/{}", options.root.string(), path));
    }
  }
  Fd tmp(OpenBeneath(root.get(), std::string(kTmpFolder), O_RDONLY | O_DIRECTORY));
  if (tmp.get() < 0) return PosixError(errno, "open the private tmp folder");
  RemoveLeftovers(tmp.get());
  Fd partial(OpenBeneath(root.get(), std::string(kPartialFolder), O_RDONLY | O_DIRECTORY));
  if (partial.get() < 0) return PosixError(errno, "open the private partial folder");
  return std::unique_ptr<Store>(std::make_unique<LocalStore>(options, std::move(root),
                                                             std::move(tmp), std::move(partial)));
}

}  // namespace ferry::store
