#include "client/client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "client/config.h"
#include "client/tls.h"
#include "common/address.h"
#include "common/io.h"
#include "protocol/request.h"

namespace ferry::client {
namespace {

constexpr std::size_t kChunk = 1 << 20;
constexpr std::size_t kMaxReplyLine = 64 * 1024;

Status SetTimeouts(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
    return PosixError(errno, "set socket timeouts");
  }
  return Status::Ok();
}

Status NetworkError(int error_number, std::string_view what) {
  if (error_number == EAGAIN || error_number == EWOULDBLOCK) {
    return Status::Busy(fmt::format("{}: the server did not answer in time", what));
  }
  return Status::Internal(fmt::format("{}: {}", what, std::strerror(error_number)));
}

}  // namespace

Result<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  std::signal(SIGPIPE, SIG_IGN);
  if (!options.token.empty()) {
    if (Status s = CheckToken(options.token); !s.ok()) return s;
  }
  Result<HostPort> address = ParseHostPort(options.server);
  if (!address.ok()) return Status::BadRequest("server " + address.status().message());
  const std::string& host = address->host;
  std::string port = std::to_string(address->port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Status::BadRequest(fmt::format("cannot resolve {}: {}", options.server, gai_strerror(rc)));
  }
  int fd = -1;
  int last_error = 0;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    (void)SetTimeouts(fd, options.io_timeout);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      last_error = errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    return Status::Busy(fmt::format("cannot connect to {}: {}", options.server,
                                    std::strerror(last_error)));
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::unique_ptr<Client> client(new Client(fd, options.server));
  if (options.tls) {
    Result<std::unique_ptr<TlsSession>> session = TlsSession::Handshake(
        fd, {.server = options.server,
             .host = options.tls_name.empty() ? host : options.tls_name,
             .ca_file = options.ca_file,
             .io_timeout = options.io_timeout});
    if (!session.ok()) return session.status();
    client->tls_ = std::move(*session);
  }
  if (!options.token.empty()) {
    if (Status s = client->Authenticate(options.token); !s.ok()) return s;
  }
  return client;
}

Client::Client(int fd, std::string server) : fd_(fd), server_(std::move(server)) {}

Client::~Client() {
  tls_.reset();  // its close_notify needs the socket
  ::close(fd_);
}

Status Client::Authenticate(const std::string& token) {
  protocol::Request request{.command = protocol::Command::kAuth, .token = token};
  if (Status s = SendRaw(protocol::EncodeRequest(request)); !s.ok()) return s;
  Result<std::string> line = ReadLine();
  if (!line.ok()) return line.status();
  return protocol::ParseReplyLine(*line).status();
}

Result<std::size_t> Client::Receive(char* data, std::size_t size) {
  if (tls_) return tls_->Read(data, size);
  while (true) {
    ssize_t got = ::recv(fd_, data, size, 0);
    if (got > 0) received_any_ = true;
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) return NetworkError(errno, "receive");
  }
}

Status Client::StreamEnded(Status cause) const {
  if (tls_) return cause;
  // A TLS record (alert 0x15 or handshake 0x16, version 3.x) where a reply line should be:
  // the server speaks TLS and refused our plain bytes.
  std::string_view head = std::string_view(buffer_).substr(begin_);
  if (head.size() >= 2 && (head[0] == '\x15' || head[0] == '\x16') && head[1] == '\x03') {
    return Status::Internal(fmt::format("{} answered in TLS: connect with --tls (or tls = true in "
                                        "the config file)", server_));
  }
  // A ferry server answers every request, an error included; one that hangs up on the first
  // without a byte is most likely a TLS server that could not parse our plain text (OpenSSL
  // sends no alert then).
  if (!received_any_) {
    return Status::Internal(fmt::format("{} closed the connection without a reply (if it expects "
                                        "TLS: --tls, or tls = true in the config file)", server_));
  }
  return cause;
}

Status Client::SendRaw(std::string_view bytes) {
  if (tls_) {
    Status sent = tls_->Write(bytes);
    if (!sent.ok()) in_step_ = false;
    return sent;
  }
  while (!bytes.empty()) {
    ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      in_step_ = false;
      return NetworkError(errno, "send");
    }
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return Status::Ok();
}

Result<std::string> Client::ReadLine() {
  while (true) {
    std::size_t lf = buffer_.find('\n', begin_);
    if (lf != std::string::npos) {
      std::string line = buffer_.substr(begin_, lf - begin_);
      begin_ = lf + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (buffer_.size() - begin_ > kMaxReplyLine) {
      in_step_ = false;
      return Status::Internal("reply line too long");
    }
    buffer_.erase(0, begin_);
    begin_ = 0;
    std::size_t old = buffer_.size();
    buffer_.resize(old + 16384);
    Result<std::size_t> got = Receive(buffer_.data() + old, 16384);
    buffer_.resize(old + (got.ok() ? *got : 0));
    if (!got.ok() || *got == 0) in_step_ = false;
    if (!got.ok()) return StreamEnded(got.status());
    if (*got == 0) return StreamEnded(Status::Internal("the server closed the connection"));
  }
}

Status Client::ReadExact(std::uint64_t length, const Sink& sink) {
  std::size_t buffered = std::min<std::uint64_t>(buffer_.size() - begin_, length);
  if (buffered > 0) {
    if (Status s = sink({buffer_.data() + begin_, buffered}); !s.ok()) return s;
    begin_ += buffered;
    length -= buffered;
  }
  std::vector<char> chunk(static_cast<std::size_t>(std::min<std::uint64_t>(length, kChunk)));
  while (length > 0) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(length, chunk.size()));
    Result<std::size_t> got = Receive(chunk.data(), want);
    if (!got.ok()) return got.status();
    if (*got == 0) return Status::Internal("the server closed the connection mid-transfer");
    if (Status s = sink({chunk.data(), *got}); !s.ok()) return s;
    length -= *got;
  }
  return Status::Ok();
}

template <typename T>
Result<std::vector<T>> Client::ReadCounted(Result<T> (*parse)(std::string_view)) {
  Result<std::string> head = ReadLine();
  if (!head.ok()) return head.status();
  Result<std::size_t> count = protocol::ParseListHead(*head);
  if (!count.ok()) return count.status();
  std::vector<T> items;
  items.reserve(std::min<std::size_t>(*count, 1 << 20));
  for (std::size_t i = 0; i < *count; ++i) {
    Result<std::string> line = ReadLine();
    if (!line.ok()) return line.status();
    Result<T> item = parse(*line);
    if (!item.ok()) {
      in_step_ = false;
      return item.status();
    }
    items.push_back(std::move(*item));
  }
  return items;
}

Result<std::vector<protocol::FileEntry>> Client::List(std::string_view prefix) {
  protocol::Request request{.command = protocol::Command::kList, .prefix = std::string(prefix)};
  if (Status s = SendRaw(protocol::EncodeRequest(request)); !s.ok()) return s;
  return ReadCounted(&protocol::ParseListEntry);
}

Result<protocol::FileEntry> Client::Stat(const ObjectName& name) {
  protocol::Request request{.command = protocol::Command::kStat, .name = name};
  if (Status s = SendRaw(protocol::EncodeRequest(request)); !s.ok()) return s;
  Result<std::string> line = ReadLine();
  if (!line.ok()) return line.status();
  return protocol::ParseStat(*line, name.str());
}

Result<protocol::GetHead> Client::Get(const ObjectName& name, std::uint64_t offset,
                                      std::optional<std::uint64_t> length, const Sink& sink) {
  protocol::Request request{
      .command = protocol::Command::kGet, .name = name, .offset = offset, .length = length};
  if (Status s = SendRaw(protocol::EncodeRequest(request)); !s.ok()) return s;
  Result<std::string> line = ReadLine();
  if (!line.ok()) return line.status();
  Result<protocol::GetHead> head = protocol::ParseGetHead(*line);
  if (!head.ok()) return head.status();
  if (Status s = ReadExact(head->length, sink); !s.ok()) {
    in_step_ = false;  // the rest of the body is still coming
    return s;
  }
  return head;
}

Status Client::SendFileBytes(int fd, std::uint64_t offset, std::uint64_t size,
                             const Progress& progress) {
  std::vector<char> chunk(static_cast<std::size_t>(std::min<std::uint64_t>(size - offset, kChunk)));
  while (offset < size) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(size - offset, chunk.size()));
    ssize_t got = ::pread(fd, chunk.data(), want, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return PosixError(errno, "read the local file");
    if (got == 0) return Status::Conflict("the local file shrank during the upload");
    if (Status s = SendRaw({chunk.data(), static_cast<std::size_t>(got)}); !s.ok()) return s;
    offset += static_cast<std::uint64_t>(got);
    if (progress) progress(offset);
  }
  return Status::Ok();
}

Result<protocol::PutDone> Client::Put(const ObjectName& name, int fd, std::uint64_t size,
                                      const Checksum& checksum, const Progress& progress,
                                      std::uint64_t* resumed_from) {
  protocol::Request request{.command = protocol::Command::kPut, .name = name, .size = size,
                            .checksum = checksum, .resume = true};
  if (Status s = SendRaw(protocol::EncodeRequest(request)); !s.ok()) return s;
  Result<std::string> line = ReadLine();
  if (!line.ok()) return line.status();
  Result<std::uint64_t> offset = protocol::ParseContinue(*line);
  if (!offset.ok()) return offset.status();
  if (*offset > size) return Status::Internal(fmt::format("the server resumes at {} of {} bytes", *offset, size));
  if (resumed_from != nullptr) *resumed_from = *offset;
  if (progress) progress(*offset);
  if (Status s = SendFileBytes(fd, *offset, size, progress); !s.ok()) {
    in_step_ = false;  // the server still waits for the rest of the body
    return s;
  }
  line = ReadLine();
  if (!line.ok()) return line.status();
  return protocol::ParsePutDone(*line);
}

Status Client::Remove(const ObjectName& name) {
  protocol::Request request{.command = protocol::Command::kDel, .name = name};
  if (Status s = SendRaw(protocol::EncodeRequest(request)); !s.ok()) return s;
  Result<std::string> line = ReadLine();
  if (!line.ok()) return line.status();
  return protocol::ParseReplyLine(*line).status();
}

Result<std::vector<protocol::StatValue>> Client::Stats() {
  if (Status s = SendRaw("STATS\n"); !s.ok()) return s;
  return ReadCounted(&protocol::ParseStatValue);
}

Status Client::Quit() {
  if (Status s = SendRaw("QUIT\n"); !s.ok()) return s;
  Result<std::string> line = ReadLine();
  return line.ok() ? protocol::ParseReplyLine(*line).status() : line.status();
}

namespace {

// On a part file: the checksum of the server's version its bytes come from, so a later
// download continues it only while the file is unchanged.
constexpr const char* kPartSourceXattr = "user.ferry.source";

// The bytes of `fd` up to `size`, into `hasher`.
Status HashPrefix(int fd, std::uint64_t size, Hasher& hasher) {
  std::vector<char> buffer(kChunk);
  for (std::uint64_t offset = 0; offset < size;) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(size - offset, kChunk));
    ssize_t got = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset));
    if (got <= 0) return PosixError(got < 0 ? errno : EIO, "read the part file");
    hasher.Update(buffer.data(), static_cast<std::size_t>(got));
    offset += static_cast<std::uint64_t>(got);
  }
  return Status::Ok();
}

// How many bytes of the part file `fd` to keep for a download of the version `current`.
std::uint64_t ResumableBytes(int fd, const protocol::FileEntry& current) {
  char tag[160];
  ssize_t got = ::fgetxattr(fd, kPartSourceXattr, tag, sizeof tag - 1);
  struct stat st;
  if (got <= 0 || ::fstat(fd, &st) != 0) return 0;
  auto have = static_cast<std::uint64_t>(st.st_size);
  bool same_version = std::string_view(tag, static_cast<std::size_t>(got)) == current.checksum->ToString();
  return same_version && have <= current.size ? have : 0;
}

}  // namespace

Result<protocol::GetHead> DownloadFile(Client& client, const ObjectName& name,
                                       const std::string& requested, const Progress& progress,
                                       TransferInfo* info) {
  std::string path = requested;
  struct stat st;
  bool exists = path != "-" && ::stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) {  // into the folder, under the file's base name (cp)
    std::string base = name.str().substr(name.str().rfind('/') + 1);
    path = (path.ends_with("/") ? path : path + "/") + base;
    exists = ::stat(path.c_str(), &st) == 0;
  }
  // stdout, or an existing device or FIFO (/dev/null...): written in place, checked at the
  // end. Renaming a part file over them would replace the device with a regular file.
  bool in_place = path == "-" || (exists && !S_ISREG(st.st_mode));
  std::string part = path + ".ferry-part";
  int fd = path == "-"  ? STDOUT_FILENO
           : in_place   ? ::open(path.c_str(), O_WRONLY | O_CLOEXEC)
                        : ::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return PosixError(errno, fmt::format("create {}", in_place ? path : part));
  Hasher hasher(ChecksumAlgo::kXxh128);
  std::uint64_t offset = 0;
  Status status;
  // One download per part file: two writers would truncate and interleave each other.
  if (!in_place && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::Conflict(fmt::format("{} is being downloaded by another ferry", path));
  }
  if (!in_place) {
    // Which version is current decides whether the part file's bytes still count.
    Result<protocol::FileEntry> current = client.Stat(name);
    status = current.status();
    if (status.ok()) offset = ResumableBytes(fd, *current);
    if (status.ok() && info != nullptr) info->from_cache = current->cached;
    if (status.ok() && offset == 0 && ::ftruncate(fd, 0) != 0) status = PosixError(errno, "truncate " + part);
    if (status.ok()) status = HashPrefix(fd, offset, hasher);
    if (status.ok() && ::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) status = PosixError(errno, "seek " + part);
    std::string tag = status.ok() ? current->checksum->ToString() : "";
    // Without user xattrs (some file systems) the download still works; it just cannot resume.
    if (status.ok()) ::fsetxattr(fd, kPartSourceXattr, tag.data(), tag.size(), 0);
  }
  if (info != nullptr) info->resumed_from = offset;
  std::uint64_t done = offset;
  if (progress && offset > 0) progress(done);
  const std::string what = fmt::format("write {}", path);
  auto sink = [&](std::string_view bytes) {
    hasher.Update(bytes);
    done += bytes.size();
    if (progress) progress(done);
    return WriteAll(fd, bytes, what);
  };
  Result<protocol::GetHead> head = status;
  if (status.ok()) {
    head = client.Get(name, offset, std::nullopt, sink);
    status = head.status();
  }
  bool corrupt = false;
  if (status.ok() && head->checksum.algo == ChecksumAlgo::kXxh128 &&
      hasher.Finish() != head->checksum) {
    // Also when the file changed between our STAT and GET: the next try starts over.
    corrupt = true;
    status = Status::ChecksumMismatch(fmt::format("{}: received bytes do not match {}", name.str(),
                                                  head->checksum.ToString()));
  }
  if (in_place) {
    if (fd != STDOUT_FILENO) ::close(fd);
    return status.ok() ? head : Result<protocol::GetHead>(status);
  }
  if (status.ok() && ::fsync(fd) != 0) status = PosixError(errno, fmt::format("sync {}", part));
  bool keep_part = !corrupt && ::fstat(fd, &st) == 0 && st.st_size > 0;
  if (status.ok() && ::rename(part.c_str(), path.c_str()) != 0) {
    status = PosixError(errno, fmt::format("rename to {}", path));
  }
  if (status.ok()) ::fremovexattr(fd, kPartSourceXattr);  // the file is complete now
  ::close(fd);
  if (!status.ok()) {
    // An interrupted download keeps its bytes for the next try; wrong bytes never stay.
    if (!keep_part) ::unlink(part.c_str());
    return status;
  }
  return head;
}

Result<protocol::PutDone> UploadFile(Client& client, const std::string& path,
                                     const ObjectName& name, const Progress& progress,
                                     TransferInfo* info) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError(errno, fmt::format("open {}", path));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::BadRequest(fmt::format("{} is not a regular file", path));
  }
  auto size = static_cast<std::uint64_t>(st.st_size);
  Result<Checksum> checksum = ChecksumFd(fd, ChecksumAlgo::kXxh128, 0, size);
  std::uint64_t resumed_from = 0;
  Result<protocol::PutDone> done =
      checksum.ok() ? client.Put(name, fd, size, *checksum, progress, &resumed_from)
                    : Result<protocol::PutDone>(checksum.status());
  ::close(fd);
  if (info != nullptr) info->resumed_from = resumed_from;
  return done;
}

}  // namespace ferry::client
