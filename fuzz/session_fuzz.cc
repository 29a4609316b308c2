// Whole sessions: arbitrary bytes from a client on a real loopback connection,
// through either door's connection handler (RunSession, RunHttpSession), the
// service, the cache and a local store on tmpfs. The input's first byte picks
// the door, whether an auth file is in force and how the bytes are cut into
// writes; the rest is what the client sends before it half-closes and reads to
// the end.
//
// Invariants, for every input: the session ends (no hang: its loop is done
// within 8 s of the client's last byte); it releases its connection place and
// its registration; no write in progress is left in the data store's tmp/;
// nothing is written outside the data folder (a symlink in it points to a
// sibling folder that must stay empty). The store is a local folder on tmpfs
// (/dev/shm), so the whole server runs in memory. TLS is left to OpenSSL's own
// fuzzing.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <list>
#include <memory>
#include <string>

#include "auth/auth.h"
#include "cache/cache.h"
#include "fuzz_check.h"
#include "server/limits.h"
#include "server/session.h"
#include "service/file_service.h"
#include "service/metrics.h"
#include "store/store.h"
#include "tests/temp_dir.h"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using asio::ip::tcp;
using namespace ferry;
using ferry::testing::WriteFile;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// The files every session finds (restored every kResetEvery inputs, so a DEL
// found early does not starve the rest of the run). Tokens for the dictionary:
// fuzz/session_fuzz.dict.
constexpr int kResetEvery = 256;
constexpr const char *kReadToken = "fuzz-read-token";    // read, under public/
constexpr const char *kWriteToken = "fuzz-write-token";  // write, everywhere
constexpr const char *kAdminToken = "fuzz-admin-token";  // admin

fs::path MakeRoot() {
  fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  const std::string prefix = "ferry-session-fuzz-";
  // Folders of runs that crashed (an abort skips the atexit that removes them).
  for (const auto& entry : fs::directory_iterator(base)) {
    std::string name = entry.path().filename();
    if (name.starts_with(prefix) && !fs::exists("/proc/" + name.substr(prefix.size()))) {
      fs::remove_all(entry.path());
    }
  }
  fs::path root = base / (prefix + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  return root;
}

struct World {
  fs::path root = MakeRoot();
  fs::path data = root / "data";
  fs::path outside = root / "outside";  // a symlink in data points here; nothing may land in it
  std::unique_ptr<store::Store> data_store;
  std::unique_ptr<cache::Cache> cache;
  asio::thread_pool pool{2};
  std::unique_ptr<service::FileService> service;
  service::RequestMetrics metrics;
  auth::AuthFile auth;
  auth::FailureLimiter failures{auth::FailureLimiter::Options{.max_failures = UINT_MAX}};
  server::ConnectionLimiter connections{64, 0};
  std::atomic<bool> stopping{false};
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  std::list<server::SessionHandle> sessions;
  std::uint64_t inputs = 0;

  World() {
    std::signal(SIGPIPE,
                SIG_IGN);  // as in ferryd: sendfile to a closed peer must not kill us
    // The server's log at every input would be most of the run's time;
    // SESSION_FUZZ_ECHO=1 shows it, and what the client receives, when
    // replaying an input by hand.
    if (std::getenv("SESSION_FUZZ_ECHO") == nullptr) spdlog::set_level(spdlog::level::off);
    fs::create_directories(outside);
    ResetFiles();
    auto opened = store::OpenLocalStore({data, /*durable=*/false});
    FUZZ_CHECK(opened.ok());
    data_store = std::move(*opened);
    auto folder = store::OpenLocalStore({root / "cache", /*durable=*/false});
    FUZZ_CHECK(folder.ok());
    // Small enough that fills evict, with a policy of its own state: every path
    // is walked.
    auto opened_cache = cache::Cache::Open(
        std::move(*folder), {256 << 10, 64 << 10, "s3fifo", root / "cache" / ".ferry"});
    FUZZ_CHECK(opened_cache.ok());
    cache = std::move(*opened_cache);
    service = std::make_unique<service::FileService>(
        *data_store, cache.get(),
        [this](std::function<void()> job) { asio::post(pool, std::move(job)); },
        service::ServiceOptions{.max_upload = 1 << 20});
    auth.anonymous = auth::Role::kRead;
    auth.tokens = {{auth::HashToken(kReadToken), auth::Role::kRead, "public/"},
                   {auth::HashToken(kWriteToken), auth::Role::kWrite, ""},
                   {auth::HashToken(kAdminToken), auth::Role::kAdmin, ""}};
  }

  // The seed files, anew; whatever sessions added goes, and so do resumable
  // leftovers.
  void ResetFiles() {
    if (fs::exists(data)) {
      for (const auto &entry : fs::directory_iterator(data)) {
        if (entry.path().filename() != ".ferry") fs::remove_all(entry.path());
      }
    }
    WriteFile(data / "a.txt", "hello\n");
    WriteFile(data / "dir" / "b.bin", std::string(100 << 10, 'b'));  // several reads long
    WriteFile(data / "public" / "c.txt", "public\n");
    WriteFile(data / "empty", "");
    fs::create_directory_symlink(outside, data / "link");
    fs::create_symlink("/etc/hostname", data / "escape");
    FUZZ_CHECK(::mkfifo((data / "fifo").c_str(), 0600) == 0);
    if (data_store) data_store->ExpirePartials(std::chrono::seconds(0));
  }

  bool Empty(const fs::path &folder) const { return !fs::exists(folder) || fs::is_empty(folder); }
};

World &TheWorld() {
  static World *world = [] {
    auto *made = new World;  // lives until exit; its folder goes then
    std::atexit([] { fs::remove_all(TheWorld().root); });
    return made;
  }();
  return *world;
}

// The client: writes `bytes` in pieces of `piece` (0: at once), half-closes,
// and meanwhile reads everything the server says until it closes.
asio::awaitable<void> Send(tcp::socket &socket, std::string_view bytes, std::size_t piece) {
  if (piece == 0) piece = bytes.size();
  for (std::size_t at = 0; at < bytes.size();) {
    std::size_t n = std::min(piece, bytes.size() - at);
    auto [error, written] =
        co_await asio::async_write(socket, asio::buffer(bytes.data() + at, n), kNoThrow);
    if (error) co_return;
    at += written;
  }
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> Receive(tcp::socket &socket, bool &done) {
  static const bool echo = std::getenv("SESSION_FUZZ_ECHO") != nullptr;
  std::string buffer(64 << 10, '\0');
  for (;;) {
    auto [error, n] = co_await socket.async_read_some(asio::buffer(buffer), kNoThrow);
    if (error) break;
    if (echo) std::fwrite(buffer.data(), 1, n, stderr);
  }
  done = true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  World &world = TheWorld();
  if (++world.inputs % kResetEvery == 0) world.ResetFiles();
  fuzz::FuzzInput input(data, size);
  const std::uint8_t mode = input.Byte();
  const bool http = (mode & 1) != 0;
  const bool with_auth = (mode & 2) != 0;
  const std::size_t piece = mode >> 2;  // 0: one write; else 1..63 bytes a write
  const std::string_view bytes = input.rest();

  tcp::socket client(world.io);
  tcp::socket server_socket(world.io);
  // Asynchronously, on the loop: libFuzzer's timeout alarm (SIGALRM) interrupts blocking calls,
  // and a blocking connect or accept then throws EINTR (it did, once in 12,000 runs).
  bool connected = false, accepted = false;
  client.async_connect(world.acceptor.local_endpoint(),
                       [&](boost::system::error_code error) { connected = !error; });
  world.acceptor.async_accept(server_socket,
                              [&](boost::system::error_code error) { accepted = !error; });
  world.io.restart();
  world.io.run_for(std::chrono::seconds(8));
  FUZZ_CHECK(connected && accepted);
  auto ticket = world.connections.TryAdmit("127.0.0.1");
  FUZZ_CHECK(ticket.has_value());

  server::SessionContext context{
      *world.service,
      world.metrics,
      world.pool,
      world.stopping,
      // Not owned: the world outlives every session.
      with_auth ? std::shared_ptr<const auth::AuthFile>(&world.auth, [](const auth::AuthFile*) {})
                : nullptr,
      world.failures,
      /*tls=*/nullptr,
      server::StreamLimits{std::chrono::seconds(2), std::chrono::seconds(2), 0,
                           std::chrono::seconds(30)}};
  bool session_done = false;
  auto on_end = [&](std::exception_ptr error) {
    FUZZ_CHECK(error == nullptr);  // a session handles its own errors
    session_done = true;
  };
  if (http) {
    asio::co_spawn(world.io,
                   server::RunHttpSession(context, std::move(server_socket), world.sessions,
                                          std::move(*ticket)),
                   on_end);
  } else {
    asio::co_spawn(
        world.io,
        server::RunSession(context, std::move(server_socket), world.sessions, std::move(*ticket)),
        on_end);
  }
  ticket.reset();
  bool client_done = false;
  asio::co_spawn(world.io, Send(client, bytes, piece), asio::detached);
  asio::co_spawn(world.io, Receive(client, client_done), asio::detached);
  world.io.restart();
  world.io.run_for(std::chrono::seconds(8));
  FUZZ_CHECK(session_done);  // else it hangs
  FUZZ_CHECK(client_done);   // the server closed the connection
  FUZZ_CHECK(world.sessions.empty());
  FUZZ_CHECK(world.connections.open() == 0);
  FUZZ_CHECK(world.Empty(world.data / ".ferry" / "tmp"));
  FUZZ_CHECK(world.Empty(world.outside));
  return 0;
}
