// Integration-test helpers: a real ferryd on an ephemeral port of 127.0.0.1 with its own
// temporary folders, the real ferry CLI, and raw sockets. Everything is bounded in time and
// stopped by process id.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/temp_dir.h"

namespace ferry::testing {

// Paths of the binaries under test (set by CMake).
std::string FerrydPath();
std::string FerryPath();
std::string FerrySimPath();

class Ferryd {
 public:
  // Starts ferryd with data and cache under a fresh temporary folder, plus `extra_args`. A
  // test's own --listen, --http-listen, --data or --cache replaces the fixture's (CLI11 refuses
  // an option given twice); data() and cache() then name the given folders.
  explicit Ferryd(std::vector<std::string> extra_args = {});
  ~Ferryd();  // stops it (SIGTERM, then SIGKILL after 10 s)

  // Starts again on the same folders (after Kill), on a new port.
  void Restart();
  // SIGTERM and wait; returns the exit status (as from waitpid), or -1 on timeout.
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void Kill();  // SIGKILL and reap

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int http_port() const { return http_port_; }  // 0 with --http-listen off
  // "http://127.0.0.1:PORT" + path.
  std::string url(std::string_view path = "") const {
    return "http://127.0.0.1:" + std::to_string(http_port_) + std::string(path);
  }
  std::filesystem::path data() const { return data_; }
  std::filesystem::path cache() const { return cache_; }
  std::filesystem::path log() const { return dir_ / "ferryd.log"; }
  // From /proc: resident set size now and at its peak, in bytes.
  std::uint64_t RssBytes() const;
  std::uint64_t PeakRssBytes() const;
  // Files in the data store's private tmp folder (uploads in progress).
  std::size_t TmpFiles() const;
  // Interrupted resumable uploads the data store keeps (.ferry/partial).
  std::size_t PartialFiles() const;

 private:
  void Start();
  TempDir dir_;
  std::vector<std::string> extra_args_;
  std::filesystem::path data_;
  std::filesystem::path cache_;
  pid_t pid_ = -1;
  int port_ = 0;
  int http_port_ = 0;
};

struct RunResult {
  int exit_code = -1;  // -1 if it timed out (and was killed)
  std::string out;
  std::string err;
};

// Runs a program with arguments (no shell; argv[0] is looked up in PATH), bounded by `timeout`.
RunResult RunProgram(const std::vector<std::string>& argv,
              std::chrono::milliseconds timeout = std::chrono::seconds(120));
// Starts a program in the background; returns its pid (for kill tests).
pid_t Spawn(const std::vector<std::string>& argv);

// A plain TCP connection to 127.0.0.1, for speaking the protocol byte by byte.
class RawConnection {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  void Send(std::string_view bytes);
  void HalfClose();  // shutdown(SHUT_WR): "no more requests"
  std::string ReadLine();                 // "" plus a test failure on timeout or EOF
  std::string ReadBytes(std::size_t n);   // exactly n bytes, or a test failure
  bool ClosedByPeer();                    // true if the server closed (EOF within 5 s)
  // Every byte until the server closes (after the buffered ones); a test failure, and what
  // came so far, after 10 s of silence.
  std::string ReadToEnd();

 private:
  int fd_ = -1;
  std::string buffer_;
};

// A relay on 127.0.0.1 in front of a server's port that cuts connections at chosen points:
// how the resume tests interrupt transfers at exact byte offsets. One connection at a time.
class CuttingProxy {
 public:
  enum Direction { kToServer = 0, kToClient = 1 };
  explicit CuttingProxy(int target_port);
  ~CuttingProxy();  // stops the relay thread
  int port() const { return port_; }
  // The next connection is closed (both sides) right after `bytes` have passed in
  // `direction`; nullopt: it is not cut.
  void CutNext(Direction direction, std::optional<std::uint64_t> bytes);
  // Bytes relayed in `direction`, over all connections so far.
  std::uint64_t forwarded(Direction direction) const { return forwarded_[direction].load(); }

 private:
  void Run();
  void Relay(int client);
  int target_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  Direction cut_direction_ = kToClient;              // GUARDED_BY(mutex_)
  std::optional<std::uint64_t> cut_after_;           // GUARDED_BY(mutex_)
  std::array<std::atomic<std::uint64_t>, 2> forwarded_{};
  std::thread thread_;
};

// A free TCP port of 127.0.0.1, for a program that takes a port number.
int FreePort();

// The auth file's line for `token` ("sha256 = ..."), as the real `ferryd hash-token` prints it.
std::string HashTokenLine(const std::string& token);

// Waits up to 10 s for `condition`, checking every 5 ms; false if it never held.
bool Eventually(const std::function<bool()>& condition);

// Deterministic pseudo-random bytes (xorshift), fast enough for gigabytes.
void WriteRandomFile(const std::filesystem::path& path, std::uint64_t size, std::uint64_t seed);
std::string RandomBytes(std::size_t size, std::uint64_t seed);
// xxh128 of a file, "xxh128:<hex>".
std::string FileChecksum(const std::filesystem::path& path);

}  // namespace ferry::testing
