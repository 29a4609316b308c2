#include "tests/ferryd_fixture.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "common/checksum.h"

extern char** environ;

namespace ferry::testing {
namespace {

using Clock = std::chrono::steady_clock;

// waitpid with a deadline; returns the status, or -1 if it did not exit in time.
int WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 || Clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::vector<char*> Argv(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

std::uint64_t StatusField(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1)) * 1024;
  }
  return 0;
}

bool Given(const std::vector<std::string>& args, std::string_view flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}

}  // namespace

std::string FerrydPath() { return FERRYD_PATH; }
std::string FerryPath() { return FERRY_PATH; }
std::string FerrySimPath() { return FERRY_SIM_PATH; }

Ferryd::Ferryd(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {
  auto given = [&](std::string_view flag, const char* fallback) {
    auto it = std::find(extra_args_.begin(), extra_args_.end(), flag);
    return it != extra_args_.end() && it + 1 != extra_args_.end() ? std::filesystem::path(*(it + 1))
                                                                  : dir_ / fallback;
  };
  data_ = given("--data", "data");
  cache_ = given("--cache", "cache");
  Start();
}

Ferryd::~Ferryd() {
  if (pid_ > 0 && Stop() == -1) Kill();
}

void Ferryd::Start() {
  std::filesystem::path ready = dir_ / "ready";
  std::filesystem::remove(ready);
  // setpriv --pdeathsig: ferryd dies with the test process even when the test is killed
  // before its destructors run (a timeout, a closed pipe), so no server outlives its test.
  std::vector<std::string> args = {"/usr/bin/setpriv", "--pdeathsig", "KILL", "--", FerrydPath(),
                                   "--ready-file", ready.string(), "--threads", "2",
                                   "--log-level", "debug"};
  // A test's own --listen, --http-listen, --data or --cache replaces the default (CLI11
  // refuses an option given twice).
  if (!Given(extra_args_, "--listen")) args.insert(args.end(), {"--listen", "127.0.0.1:0"});
  if (!Given(extra_args_, "--http-listen")) args.insert(args.end(), {"--http-listen", "127.0.0.1:0"});
  if (!Given(extra_args_, "--data")) args.insert(args.end(), {"--data", data().string()});
  if (!Given(extra_args_, "--cache")) args.insert(args.end(), {"--cache", cache().string()});
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log().c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  auto argv = Argv(args);
  ASSERT_EQ(::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!std::filesystem::exists(ready)) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid_, &status, WNOHANG), 0) << "ferryd exited at start; see " << log();
    ASSERT_LT(Clock::now(), deadline) << "ferryd did not start listening in 20 s";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // "HOST:PORT" of the native protocol, then "http HOST:PORT" unless HTTP is off.
  std::string address, door, http_address;
  std::ifstream(ready) >> address >> door >> http_address;
  port_ = std::stoi(address.substr(address.rfind(':') + 1));
  http_port_ = door == "http" ? std::stoi(http_address.substr(http_address.rfind(':') + 1)) : 0;
}

void Ferryd::Restart() { Start(); }

int Ferryd::Stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return 0;
  ::kill(pid_, SIGTERM);
  int status = WaitFor(pid_, timeout);
  if (status != -1) pid_ = -1;
  return status;
}

void Ferryd::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  WaitFor(pid_, std::chrono::seconds(10));
  pid_ = -1;
}

std::uint64_t Ferryd::RssBytes() const { return StatusField(pid_, "VmRSS"); }
std::uint64_t Ferryd::PeakRssBytes() const { return StatusField(pid_, "VmHWM"); }

namespace {
std::size_t RegularFilesIn(const std::filesystem::path& folder) {
  std::size_t n = 0;
  std::error_code error;
  for (auto& e : std::filesystem::directory_iterator(folder, error)) {
    n += e.is_regular_file() ? 1 : 0;
  }
  return n;
}
}  // namespace

bool Eventually(const std::function<bool()>& condition) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::size_t Ferryd::TmpFiles() const { return RegularFilesIn(data() / ".ferry/tmp"); }
std::size_t Ferryd::PartialFiles() const { return RegularFilesIn(data() / ".ferry/partial"); }

RunResult RunProgram(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  TempDir io;
  std::filesystem::path out = io / "out", err = io / "err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT, 0644);
  auto argv = Argv(args);
  pid_t pid = -1;
  int spawned = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  RunResult result;
  if (spawned != 0) return result;
  int status = WaitFor(pid, timeout);
  if (status == -1) {
    ::kill(pid, SIGKILL);
    WaitFor(pid, std::chrono::seconds(10));
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  result.out = ReadFile(out);
  result.err = ReadFile(err);
  return result;
}

pid_t Spawn(const std::vector<std::string>& args) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  auto argv = Argv(args);
  pid_t pid = -1;
  EXPECT_EQ(::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

RawConnection::RawConnection(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
}

RawConnection::~RawConnection() { ::close(fd_); }

void RawConnection::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent <= 0) {
      ADD_FAILURE() << "send failed: " << std::strerror(errno);
      return;
    }
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
}

void RawConnection::HalfClose() { ::shutdown(fd_, SHUT_WR); }

// Receives more bytes into the buffer; false on EOF, error or 10 s of silence.
static bool Receive(int fd, std::string& buffer) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 10'000) <= 0) return false;
  char chunk[65536];
  ssize_t got = ::recv(fd, chunk, sizeof(chunk), 0);
  if (got <= 0) return false;
  buffer.append(chunk, static_cast<std::size_t>(got));
  return true;
}

std::string RawConnection::ReadLine() {
  while (true) {
    std::size_t lf = buffer_.find('\n');
    if (lf != std::string::npos) {
      std::string line = buffer_.substr(0, lf);
      buffer_.erase(0, lf + 1);
      return line;
    }
    if (!Receive(fd_, buffer_)) {
      ADD_FAILURE() << "no complete line from the server (have: '" << buffer_ << "')";
      return "";
    }
  }
}

std::string RawConnection::ReadBytes(std::size_t n) {
  while (buffer_.size() < n) {
    if (!Receive(fd_, buffer_)) {
      ADD_FAILURE() << "wanted " << n << " bytes, got " << buffer_.size();
      return "";
    }
  }
  std::string bytes = buffer_.substr(0, n);
  buffer_.erase(0, n);
  return bytes;
}

bool RawConnection::ClosedByPeer() {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 5'000) <= 0) return false;
  char byte;
  return ::recv(fd_, &byte, 1, 0) == 0;
}

std::string RawConnection::ReadToEnd() {
  while (true) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0) {
      ADD_FAILURE() << "the server neither closed nor sent anything for 10 s";
      break;
    }
    char chunk[65536];
    ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (got <= 0) break;  // closed (or reset: what came before it is the reply)
    buffer_.append(chunk, static_cast<std::size_t>(got));
  }
  return std::exchange(buffer_, {});
}

std::string RandomBytes(std::size_t size, std::uint64_t seed) {
  std::string bytes(size, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i < size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(bytes.data() + i, &x, std::min<std::size_t>(8, size - i));
  }
  return bytes;
}

void WriteRandomFile(const std::filesystem::path& path, std::uint64_t size, std::uint64_t seed) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  constexpr std::size_t kChunk = 1 << 20;
  for (std::uint64_t done = 0, i = 0; done < size; done += kChunk, ++i) {
    std::string chunk = RandomBytes(static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, size - done)),
                                    seed * 1000003 + i);
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  }
}

std::string FileChecksum(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "<missing " + path.string() + ">";
  auto size = static_cast<std::uint64_t>(std::filesystem::file_size(path));
  Result<Checksum> checksum = ChecksumFd(fd, ChecksumAlgo::kXxh128, 0, size);
  ::close(fd);
  return checksum.ok() ? checksum->ToString() : checksum.status().ToString();
}

CuttingProxy::CuttingProxy(int target_port) : target_port_(target_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(::listen(listener_, 16), 0);
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { Run(); });
}

CuttingProxy::~CuttingProxy() {
  stop_.store(true);
  thread_.join();
  ::close(listener_);
}

void CuttingProxy::CutNext(Direction direction, std::optional<std::uint64_t> bytes) {
  std::lock_guard lock(mutex_);
  cut_direction_ = direction;
  cut_after_ = bytes;
}

void CuttingProxy::Run() {
  while (!stop_.load()) {
    pollfd ready{listener_, POLLIN, 0};
    if (::poll(&ready, 1, 50) <= 0) continue;
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client >= 0) Relay(client);
  }
}

void CuttingProxy::Relay(int client) {
  Direction cut_direction;
  std::optional<std::uint64_t> cut_after;
  {
    std::lock_guard lock(mutex_);
    cut_direction = cut_direction_;
    cut_after = cut_after_;
    cut_after_.reset();  // one cut per CutNext
  }
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(target_port_));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(server, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    std::array<int, 2> from = {client, server};  // indexed by Direction: kToServer reads client
    std::array<int, 2> to = {server, client};
    std::array<std::uint64_t, 2> moved = {0, 0};
    std::vector<char> buffer(256 * 1024);
    bool open = true;
    // Bounded: a test's transfer ends within minutes; a stop ends the relay at once.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (open && !stop_.load() && std::chrono::steady_clock::now() < deadline) {
      std::array<pollfd, 2> fds = {pollfd{client, POLLIN, 0}, pollfd{server, POLLIN, 0}};
      if (::poll(fds.data(), 2, 50) <= 0) continue;
      for (int d = 0; d < 2 && open; ++d) {
        if (!(fds[static_cast<std::size_t>(d)].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        std::size_t want = buffer.size();
        if (cut_after && cut_direction == d) {
          want = static_cast<std::size_t>(std::min<std::uint64_t>(want, *cut_after - moved[d]));
        }
        ssize_t got = want == 0 ? 0 : ::read(from[static_cast<std::size_t>(d)], buffer.data(), want);
        if (got <= 0) {
          open = false;
          break;
        }
        std::string_view bytes(buffer.data(), static_cast<std::size_t>(got));
        while (!bytes.empty()) {
          ssize_t sent = ::send(to[static_cast<std::size_t>(d)], bytes.data(), bytes.size(), MSG_NOSIGNAL);
          if (sent <= 0) {
            open = false;
            break;
          }
          bytes.remove_prefix(static_cast<std::size_t>(sent));
        }
        moved[d] += static_cast<std::uint64_t>(got);
        forwarded_[static_cast<std::size_t>(d)] += static_cast<std::uint64_t>(got);
        if (cut_after && cut_direction == d && moved[d] >= *cut_after) open = false;
      }
    }
  }
  ::close(server);
  ::close(client);
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string HashTokenLine(const std::string& token) {
  RunResult run = RunProgram({"sh", "-c", "echo \"$1\" | \"$0\" hash-token", FerrydPath(), token},
                             std::chrono::seconds(30));
  EXPECT_EQ(run.exit_code, 0) << "ferryd hash-token: " << run.err;
  EXPECT_TRUE(run.out.starts_with("sha256 = \"")) << run.out;
  return run.out;
}

}  // namespace ferry::testing
