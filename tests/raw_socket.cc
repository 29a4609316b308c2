#include "tests/raw_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ferry::testing {

using Clock = std::chrono::steady_clock;

Socket::Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  std::swap(fd_, other.fd_);
  return *this;
}

void Socket::Close() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

Socket Connect(int port, const char* source, int receive_buffer) {
  Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.ok()) return s;
  if (receive_buffer > 0) {
    ::setsockopt(s.fd(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  if (source != nullptr) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &local.sin_addr);
    if (::bind(s.fd(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return Socket();
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return Socket();
  }
  return s;
}

bool SendAll(const Socket& s, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t sent = ::send(s.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

namespace {

// Appends what one recv gives within the time left; false on EOF, error or timeout.
bool ReceiveSome(const Socket& s, std::string& into, Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  pollfd p{s.fd(), POLLIN, 0};
  if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char chunk[65536];
  ssize_t got = ::recv(s.fd(), chunk, sizeof chunk, 0);
  if (got <= 0) return false;
  into.append(chunk, static_cast<std::size_t>(got));
  return true;
}

}  // namespace

std::string ReadLineFrom(const Socket& s, std::chrono::milliseconds timeout) {
  std::string line;
  auto deadline = Clock::now() + timeout;
  while (line.find('\n') == std::string::npos && ReceiveSome(s, line, deadline)) {
  }
  return line;
}

std::string ReadExactFrom(const Socket& s, std::size_t n, std::string& buffered,
                          std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (buffered.size() < n && ReceiveSome(s, buffered, deadline)) {
  }
  std::string bytes = buffered.substr(0, n);
  buffered.erase(0, bytes.size());
  return bytes;
}

std::string ReadAllFrom(const Socket& s, std::chrono::milliseconds timeout) {
  std::string bytes;
  auto deadline = Clock::now() + timeout;
  while (ReceiveSome(s, bytes, deadline)) {
  }
  return bytes;
}

bool ClosedByServer(const Socket& s) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(s.fd(), IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return true;
  return info.tcpi_state != TCP_ESTABLISHED;
}

void Reset(Socket& s) {
  linger option{1, 0};
  ::setsockopt(s.fd(), SOL_SOCKET, SO_LINGER, &option, sizeof option);
  s.Close();
}

void HalfClose(const Socket& s) { ::shutdown(s.fd(), SHUT_WR); }

bool RaiseDescriptorLimit(rlim_t needed) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur >= needed) return true;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) return false;
  limit.rlim_cur = needed;
  return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

TmpfsMount::TmpfsMount(const std::filesystem::path& where, const std::string& options)
    : where_(where) {
  if (::mount("tmpfs", where.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0) {
    mounted_ = true;
  } else {
    error_ = std::strerror(errno);
  }
}

TmpfsMount::~TmpfsMount() {
  if (mounted_ && ::umount2(where_.c_str(), 0) != 0) ::umount2(where_.c_str(), MNT_DETACH);
}

std::int64_t FreeBytes(const std::filesystem::path& path) {
  struct statvfs stats {};
  if (::statvfs(path.c_str(), &stats) != 0) return -1;
  return static_cast<std::int64_t>(stats.f_bavail * stats.f_frsize);
}

int OpenDescriptors(int pid) {
  std::error_code error;
  std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", error);
  if (error) return -1;
  int count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) return -1;
    ++count;
  }
  return count;
}

}  // namespace ferry::testing
