// Raw TCP clients and test-made mounts for the integration tests that need many connections
// or odd behaviour (limits, faults, load): no gtest failures inside, so they work in threads
// and in loops of thousands.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace ferry::testing {

// An owned socket descriptor.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  ~Socket() { Close(); }
  void Close();
  int fd() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// A connection to 127.0.0.1:`port` from `source` (an address of 127.0.0.0/8; null: the
// kernel's choice). `receive_buffer` > 0 sets SO_RCVBUF first. Not ok() if it failed.
Socket Connect(int port, const char* source = nullptr, int receive_buffer = 0);
// All of `bytes`, or false (the peer is gone). Never raises SIGPIPE.
bool SendAll(const Socket& s, std::string_view bytes);
// Bytes until a '\n' (included), the end of the stream, an error or `timeout`.
std::string ReadLineFrom(const Socket& s,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));
// Exactly `n` bytes after what `buffered` holds (which it consumes first), or fewer on EOF,
// error or `timeout`.
std::string ReadExactFrom(const Socket& s, std::size_t n, std::string& buffered,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));
// Every byte until the server closes (or resets), or `timeout`.
std::string ReadAllFrom(const Socket& s,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
// True once the connection has left ESTABLISHED: the server closed or reset it. Reads nothing.
bool ClosedByServer(const Socket& s);
// Closes with a reset (SO_LINGER 0): a client that vanishes without a FIN.
void Reset(Socket& s);
// shutdown(SHUT_WR): "no more bytes from me", reading on.
void HalfClose(const Socket& s);

// Lets this process hold `needed` descriptors; false if the hard limit is lower.
bool RaiseDescriptorLimit(rlim_t needed);

// A tmpfs mounted on `where` for the owner's lifetime; unmounted even when a test fails.
class TmpfsMount {
 public:
  TmpfsMount(const std::filesystem::path& where, const std::string& options);
  ~TmpfsMount();
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool ok() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::filesystem::path where_;
  bool mounted_ = false;
  std::string error_;
};

// Bytes an unprivileged writer may still use on the file system holding `path`; -1 on error.
std::int64_t FreeBytes(const std::filesystem::path& path);

// From /proc: the descriptors `pid` holds open; -1 if it is gone.
int OpenDescriptors(int pid);

}  // namespace ferry::testing
