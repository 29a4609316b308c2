#include "server/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sys/resource.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <list>
#include <optional>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "auth/auth.h"
#include "common/address.h"
#include "common/units.h"
#include "server/limits.h"
#include "server/logging.h"
#include "server/session.h"
#include "store/store.h"

namespace ferry::server {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

Result<tcp::endpoint> ParseEndpoint(const std::string& text) {
  Result<HostPort> parsed = ParseHostPort(text);
  if (!parsed.ok()) return parsed.status();
  error_code error;
  auto address = asio::ip::make_address(parsed->host == "localhost" ? "127.0.0.1" : parsed->host, error);
  if (error) return Status::BadRequest(fmt::format("bad address in '{}'", text));
  return tcp::endpoint(address, parsed->port);
}

using Door = service::Door;

// One event-loop thread: its io_context, a listener per door and the sessions it owns.
struct Worker {
  asio::io_context io{1};
  std::array<std::optional<tcp::acceptor>, service::kDoors> acceptors;
  std::list<SessionHandle> sessions;
  std::thread thread;
};

// TLS 1.2 and 1.3 only, forward-secret AEAD suites only (Mozilla's "intermediate" profile).
Result<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const Config& config) {
  auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  error_code error;
  tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use |
                   SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE, error);
  SSL_CTX* native = tls->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // An idle TLS connection gives its record buffers back (about 34 KiB each way).
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_cipher_list(native,
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  if (!error) tls->use_certificate_chain_file(config.tls_cert.string(), error);
  if (error) {
    return Status::BadRequest(fmt::format("--tls-cert {}: {}", config.tls_cert.string(), error.message()));
  }
  tls->use_private_key_file(config.tls_key.string(), asio::ssl::context::pem, error);
  if (error) {
    return Status::BadRequest(fmt::format("--tls-key {}: {}", config.tls_key.string(), error.message()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return Status::BadRequest("--tls-key does not belong to --tls-cert");
  }
  return tls;
}

Result<std::shared_ptr<const auth::AuthFile>> ReadAuthFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return Status::BadRequest(fmt::format("cannot read --auth-file {}", path.string()));
  auto parsed = auth::ParseAuthFile(text.str(), path.string());
  if (!parsed.ok()) return parsed.status();
  return std::make_shared<const auth::AuthFile>(std::move(*parsed));
}

// Each connection holds a descriptor (and a file being sent, another): let the process have
// as many as the system allows it, not the shell's default of 1024.
void RaiseDescriptorLimit(unsigned max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < rlim_t{max_connections}) {
    spdlog::warn("the descriptor limit ({}) is below --max-connections {}; beyond it accepts "
                 "fail until connections close (raise it: LimitNOFILE= in systemd, ulimit -n)",
                 limit.rlim_cur, max_connections);
  }
}

// A refused connection learns why in its door's words (TLS: before any handshake, nothing
// can be said), then is closed.
void Refuse(tcp::socket& socket, Door door, bool tls) {
  static constexpr std::string_view kNative = "ERR 503 too many connections\n";
  static constexpr std::string_view kHttp =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 26\r\n"
      "Retry-After: 1\r\nConnection: close\r\n\r\n503 too many connections\r\n";
  error_code ignored;
  if (!tls) {
    // A fresh socket's send buffer is empty: this never blocks.
    asio::write(socket, asio::buffer(door == Door::kNative ? kNative : kHttp), ignored);
  }
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

// What a reload may change for new connections, swapped whole: a session keeps the snapshot
// it began with (its TLS context and tokens stay alive as long as it does).
struct LiveSettings {
  std::shared_ptr<const auth::AuthFile> auth;  // null: no authentication
  std::shared_ptr<asio::ssl::context> tls;     // null: plain TCP
  StreamLimits limits;
};

// Reads the auth file and the TLS certificates `config` names.
Result<std::shared_ptr<const LiveSettings>> MakeLiveSettings(const Config& config) {
  auto settings = std::make_shared<LiveSettings>();
  if (!config.auth_file.empty()) {
    auto read = ReadAuthFile(config.auth_file);
    if (!read.ok()) return read.status();
    settings->auth = std::move(*read);
  }
  if (!config.tls_cert.empty()) {
    auto made = MakeTlsContext(config);
    if (!made.ok()) return made.status();
    settings->tls = std::move(*made);
  }
  settings->limits = StreamLimits{config.idle_timeout, config.header_timeout, config.min_rate,
                                  config.rate_window};
  return std::shared_ptr<const LiveSettings>(std::move(settings));
}

// Tells systemd (Type=notify) how the service is; nothing when not started by systemd.
void Notify(const std::string& state) { ::sd_notify(0, state.c_str()); }

void LogException(std::exception_ptr error, std::string_view where) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", where, e.what());
  }
}

}  // namespace

struct Server::Impl {
  // As started: what restart-only options hold. Read by any thread; never changes.
  Config config;
  unsigned threads = 0;  // config.threads, or one per core
  ConfigSource source;   // what a reload reads again
  std::unique_ptr<store::Store> data;
  std::unique_ptr<cache::Cache> cache;
  std::unique_ptr<sim::TraceWriter> trace;
  std::unique_ptr<asio::thread_pool> blocking_pool;
  std::unique_ptr<service::FileService> service;
  service::RequestMetrics metrics;
  auth::FailureLimiter failures;
  std::mutex live_mutex;
  std::shared_ptr<const LiveSettings> live;  // GUARDED_BY(live_mutex)
  std::mutex reload_mutex;
  Config running;  // GUARDED_BY(reload_mutex): config with the live options reloads applied
  std::unique_ptr<ConnectionLimiter> connections;
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<bool> stopping{false};
  std::atomic<int> live_sessions{0};
  // Lives as long as the server: until ferryd exits, SIGINT/SIGTERM stay ours (a signal set
  // that goes away restores the default action, which would kill a draining server).
  std::optional<asio::signal_set> signals;
  // SIGHUP (reload) and SIGUSR1 (reopen the log files); theirs default action would kill.
  std::optional<asio::signal_set> control_signals;
  // Wakes the sweep of expired partial uploads; cancelled at stop.
  std::optional<asio::steady_timer> expiry_timer;

  Status OpenStores();
  // The auth file, TLS certificates and limits.
  Status SetUpSecurity();
  // Opens a listener on every worker; returns the bound "HOST:PORT".
  Result<std::string> Listen(Door door, const std::string& address);
  Status Listen();
  asio::awaitable<void> AcceptLoop(Worker& worker, Door door);
  asio::awaitable<void> WatchSignals();
  asio::awaitable<void> WatchControlSignals();
  std::shared_ptr<const LiveSettings> CurrentSettings() {
    std::lock_guard lock(live_mutex);
    return live;
  }
  // SIGHUP: reads the configuration again and applies what can change live; tells systemd.
  // Blocking.
  void Reload();
  // The work of Reload: returns systemd's new STATUS.
  std::string ApplyReload();
  asio::awaitable<void> ExpirePartials();
  void ForEachSession(bool idle_only);
};

Status Server::Impl::OpenStores() {
  Result<std::unique_ptr<store::Store>> opened = Status::Internal("no store");
  if (config.store.empty()) {
    opened = store::OpenLocalStore({config.data, /*durable=*/true, config.min_free});
  } else {
    store::S3StoreOptions s3{.url = config.store,
                             .endpoint = config.s3_endpoint,
                             .region = config.s3_region,
                             .credentials_file = config.s3_credentials_file,
                             .revalidate_after = config.revalidate_after,
                             .part_size = config.s3_part_size,
                             .parallel_parts = config.s3_parallel_parts,
                             .stall_timeout = config.s3_timeout};
    opened = store::OpenS3Store(s3);
    if (opened.ok()) spdlog::info("data store: {} at {}", config.store, config.s3_endpoint);
  }
  if (!opened.ok()) return opened.status();
  data = std::move(*opened);
  if (!config.cache.empty()) {
    auto folder = store::OpenLocalStore({config.cache, /*durable=*/false});
    if (!folder.ok()) return folder.status();
    auto opened_cache = cache::Cache::Open(
        std::move(*folder), {config.cache_max_bytes, config.cache_max_object, config.cache_policy,
                             config.cache / ".ferry"});
    if (!opened_cache.ok()) return opened_cache.status();
    cache = std::move(*opened_cache);
  }
  if (!config.trace_out.empty()) {
    auto writer = sim::TraceWriter::Open(config.trace_out, config.trace_max_bytes);
    if (!writer.ok()) return writer.status();
    trace = std::move(*writer);
  }
  // Jobs on an S3 store mostly wait for the network, not a disk: more of them may wait at once.
  unsigned pool_threads = config.store.empty() ? std::max(4u, 2 * threads)
                                               : std::max(16u, 8 * threads);
  blocking_pool = std::make_unique<asio::thread_pool>(pool_threads);
  service = std::make_unique<service::FileService>(
      *data, cache.get(),
      [pool = blocking_pool.get()](std::function<void()> job) {
        asio::post(*pool, std::move(job));
      },
      service::ServiceOptions{.trace = trace.get(),
                              .max_upload = config.max_upload,
                              .read_only = config.read_only,
                              .hot_max_bytes = config.memory_cache_max_bytes,
                              .hot_max_object = config.memory_cache_max_object,
                              // A copy in memory is never trusted longer than the store's view.
                              .hot_validity = config.store.empty()
                                                  ? std::chrono::steady_clock::duration(std::chrono::seconds(1))
                                                  : std::min<std::chrono::steady_clock::duration>(
                                                        std::chrono::seconds(1), config.revalidate_after)});
  return Status::Ok();
}

Status Server::Impl::SetUpSecurity() {
  auto settings = MakeLiveSettings(config);
  if (!settings.ok()) return settings.status();
  live = std::move(*settings);
  if (live->auth) {
    spdlog::info("authentication: {} tokens from {}; anonymous clients may {}",
                 live->auth->tokens.size(), config.auth_file.string(),
                 live->auth->anonymous == auth::Role::kRead ? "read" : "do nothing");
  } else if (config.allow_anonymous) {
    spdlog::warn("*** NO AUTHENTICATION: anyone who can reach {} may read, write and delete "
                 "every file (--allow-anonymous) ***", config.listen);
  }
  connections = std::make_unique<ConnectionLimiter>(config.max_connections,
                                                    config.max_connections_per_ip);
  RaiseDescriptorLimit(config.max_connections);
  return Status::Ok();
}

void Server::Impl::Reload() {
  std::lock_guard lock(reload_mutex);
  if (stopping.load()) return;
  Notify(fmt::format("RELOADING=1\nSTATUS=reloading {}", source.file.string()));
  std::string outcome;
  try {
    outcome = ApplyReload();
  } catch (const std::exception& error) {
    outcome = fmt::format("reload failed: {}", error.what());
    spdlog::error("{}", outcome);
  }
  Notify("READY=1\nSTATUS=" + outcome);
}

std::string Server::Impl::ApplyReload() {
  // Everything that can fail comes first; only then is anything swapped in.
  Result<Config> loaded = LoadConfig(source);
  Result<Config> effective = loaded.ok() ? ReloadedConfig(running, *loaded) : loaded;
  Result<std::shared_ptr<const LiveSettings>> settings =
      effective.ok() ? MakeLiveSettings(*effective)
                     : Result<std::shared_ptr<const LiveSettings>>(effective.status());
  Status logs = settings.ok() ? ConfigureLogging(LogSettingsFor(*effective)) : settings.status();
  if (!logs.ok()) {
    spdlog::error("reload refused, the running configuration stays: {}", logs.message());
    return "reload refused: " + logs.message();
  }
  ConfigChanges changes = CompareConfigs(running, *loaded);
  {
    std::lock_guard live_lock(live_mutex);
    live = std::move(*settings);
  }
  connections->SetLimits(effective->max_connections, effective->max_connections_per_ip);
  service->SetLimits(effective->max_upload, effective->read_only);
  if (cache) cache->Resize(effective->cache_max_bytes, effective->cache_max_object);
  running = std::move(*effective);
  if (!changes.restart.empty()) {
    spdlog::warn("reload: {} changed and needs a restart; the running value stays",
                 fmt::join(changes.restart, ", "));
  }
  // The files are read again even when their names did not change (a renewed certificate).
  std::vector<std::string> reread;
  if (!running.auth_file.empty()) reread.push_back(running.auth_file.string());
  if (!running.tls_cert.empty()) reread.push_back(running.tls_cert.string());
  spdlog::info("reloaded {}: {}{} (new connections get the new settings)",
               source.file.empty() ? "the command line" : source.file.string(),
               changes.live.empty() ? std::string("nothing live changed")
                                    : fmt::format("applied {}", fmt::join(changes.live, ", ")),
               reread.empty() ? std::string() : fmt::format("; read {} again", fmt::join(reread, ", ")));
  return "serving";
}

Result<std::string> Server::Impl::Listen(Door door, const std::string& address) {
  auto endpoint = ParseEndpoint(address);
  if (!endpoint.ok()) return endpoint.status();
  // Every thread gets its own listener on the same port (SO_REUSEPORT): the kernel spreads
  // connections over them, and no accept lock is shared.
  using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
  for (auto& worker : workers) {
    tcp::acceptor& acceptor =
        worker->acceptors[static_cast<std::size_t>(door)].emplace(worker->io);
    error_code error;
    acceptor.open(endpoint->protocol(), error);
    if (!error) acceptor.set_option(tcp::acceptor::reuse_address(true), error);
    if (!error) acceptor.set_option(ReusePort(true), error);
    if (!error) acceptor.bind(*endpoint, error);
    if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
    if (error) return Status::Internal(fmt::format("listen on {}: {}", address, error.message()));
    endpoint->port(acceptor.local_endpoint().port());  // the others share an ephemeral port
  }
  return fmt::format("{}:{}", endpoint->address().to_string(), endpoint->port());
}

Status Server::Impl::Listen() {
  Result<std::string> native = Listen(Door::kNative, config.listen);
  if (!native.ok()) return native.status();
  std::string http = "off";
  if (config.http_listen != "off") {
    Result<std::string> bound = Listen(Door::kHttp, config.http_listen);
    if (!bound.ok()) return bound.status();
    http = *bound;
  }
  spdlog::info("listening on {} (native) and {} (HTTP) with {} threads; data {}, cache {}",
               *native, http, threads,
               config.store.empty() ? config.data.string() : config.store,
               config.cache.empty() ? "off"
                                    : fmt::format("{} ({}, {})", config.cache.string(),
                                                  FormatBytes(config.cache_max_bytes),
                                                  config.cache_policy));
  if (!config.ready_file.empty()) {
    std::filesystem::path tmp = config.ready_file;
    tmp += ".tmp";
    std::ofstream out(tmp);
    out << *native << "\n";
    if (http != "off") out << "http " << http << "\n";
    out.close();
    std::filesystem::rename(tmp, config.ready_file);
  }
  return Status::Ok();
}

asio::awaitable<void> Server::Impl::AcceptLoop(Worker& worker, Door door) {
  asio::steady_timer backoff(worker.io);
  tcp::acceptor& acceptor = *worker.acceptors[static_cast<std::size_t>(door)];
  while (!stopping.load()) {
    auto [error, socket] = co_await acceptor.async_accept(kNoThrow);
    if (error == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (error) {
      // Out of descriptors or memory: keep serving the connections we have, retry shortly.
      spdlog::warn("accept: {}", error.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kNoThrow);
      continue;
    }
    error_code ignored;
    auto remote = socket.remote_endpoint(ignored);
    std::optional<ConnectionLimiter::Ticket> ticket =
        connections->TryAdmit(ignored ? std::string("?") : remote.address().to_string());
    if (!ticket) {
      spdlog::debug("refused a connection from {}: too many connections", remote.address().to_string());
      metrics.ConnectionRefused(door);
      Refuse(socket, door, CurrentSettings()->tls != nullptr);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ignored);
    live_sessions.fetch_add(1);
    std::shared_ptr<const LiveSettings> settings = CurrentSettings();
    SessionContext context{*service,      metrics,         *blocking_pool, stopping,
                           settings->auth, failures,       settings->tls,  settings->limits};
    auto on_end = [this](std::exception_ptr e) {
      LogException(e, "session");
      live_sessions.fetch_sub(1);
    };
    if (door == Door::kNative) {
      asio::co_spawn(worker.io,
                     RunSession(context, std::move(socket), worker.sessions, std::move(*ticket)),
                     on_end);
    } else {
      asio::co_spawn(worker.io,
                     RunHttpSession(context, std::move(socket), worker.sessions, std::move(*ticket)),
                     on_end);
    }
  }
}

void Server::Impl::ForEachSession(bool idle_only) {
  for (auto& worker : workers) {
    asio::post(worker->io, [w = worker.get(), idle_only] {
      if (idle_only) {
        error_code ignored;
        for (auto& acceptor : w->acceptors) {
          if (acceptor) acceptor->close(ignored);
        }
      }
      for (SessionHandle& session : w->sessions) {
        if (idle_only && session.busy) continue;
        error_code ignored;
        // shutdown, not close: the descriptor stays valid until the session ends.
        if (!idle_only) session.socket->shutdown(tcp::socket::shutdown_both, ignored);
        session.socket->cancel(ignored);
      }
    });
  }
}

// Interrupted resumable uploads are kept for --partial-ttl; the sweep runs on the pool, a few
// times per TTL (at most every 10 minutes, at least every second).
asio::awaitable<void> Server::Impl::ExpirePartials() {
  auto period = std::clamp<std::chrono::seconds>(config.partial_ttl / 4, std::chrono::seconds(1),
                                                 std::chrono::minutes(10));
  while (!stopping.load()) {
    asio::post(*blocking_pool, [this] { data->ExpirePartials(config.partial_ttl); });
    expiry_timer->expires_after(period);
    auto [error] = co_await expiry_timer->async_wait(kNoThrow);
    if (error) break;
  }
}

// First SIGINT/SIGTERM: stop accepting, close idle connections, let transfers in flight
// finish within the drain timeout, then cut what is left. A second signal cuts at once.
asio::awaitable<void> Server::Impl::WatchSignals() {
  auto& io = workers.front()->io;
  auto [error, number] = co_await signals->async_wait(kNoThrow);
  if (error) co_return;
  spdlog::info("signal {}: draining {} connections (up to {} ms)", number, live_sessions.load(),
               config.drain_timeout.count());
  Notify("STOPPING=1\nSTATUS=draining");
  stopping.store(true);
  ForEachSession(/*idle_only=*/true);

  bool second_signal = false;
  signals->async_wait([&](error_code e, int) { second_signal = !e; });
  auto deadline = std::chrono::steady_clock::now() + config.drain_timeout;
  asio::steady_timer tick(io);
  while (live_sessions.load() > 0 && !second_signal &&
         std::chrono::steady_clock::now() < deadline) {
    tick.expires_after(std::chrono::milliseconds(20));
    co_await tick.async_wait(kNoThrow);
  }
  if (live_sessions.load() > 0) {
    spdlog::warn("cutting {} connections", live_sessions.load());
    ForEachSession(/*idle_only=*/false);
  }
  signals->cancel();  // ends the second wait; the handlers stay installed
  control_signals->cancel();
  expiry_timer->cancel();
  tick.expires_after(std::chrono::milliseconds(1));
  co_await tick.async_wait(kNoThrow);  // let the handler of the second wait run
}

// SIGHUP reloads on the blocking pool (it reads files, and a smaller cache unlinks some);
// SIGUSR1 reopens the log files at once.
asio::awaitable<void> Server::Impl::WatchControlSignals() {
  while (true) {
    auto [error, number] = co_await control_signals->async_wait(kNoThrow);
    if (error) co_return;
    if (number == SIGHUP) {
      spdlog::info("signal {}: reloading {}", number,
                   source.file.empty() ? "(no --config file)" : source.file.string());
      asio::post(*blocking_pool, [this] { Reload(); });
    } else if (Status s = ReopenLogFiles(); !s.ok()) {
      spdlog::error("reopening the logs: {}", s.message());
    } else {
      spdlog::info("signal {}: log files reopened", number);
    }
  }
}

Server::Server(Config config, ConfigSource source) : impl_(std::make_unique<Impl>()) {
  impl_->threads = config.threads != 0 ? config.threads
                                       : std::max(1u, std::thread::hardware_concurrency());
  impl_->running = config;
  impl_->config = std::move(config);
  impl_->source = std::move(source);
}

Server::~Server() = default;

int Server::Run() {
  Impl& impl = *impl_;
  std::signal(SIGPIPE, SIG_IGN);  // a vanished client is an error code, not a signal
  // Until the signal set below takes them (after the stores open, which may take minutes for
  // a large cache index), a reload or logrotate's reopen must not kill the server.
  std::signal(SIGHUP, SIG_IGN);
  std::signal(SIGUSR1, SIG_IGN);
  if (Status s = impl.SetUpSecurity(); !s.ok()) {
    spdlog::critical("{}", s.message());
    return 1;
  }
  if (Status s = impl.OpenStores(); !s.ok()) {
    spdlog::critical("cannot open the stores: {}", s.ToString());
    return 1;
  }
  // Before listening: a signal that arrives as soon as the port is announced is handled.
  for (unsigned i = 0; i < impl.threads; ++i) {
    impl.workers.push_back(std::make_unique<Worker>());
  }
  impl.signals.emplace(impl.workers.front()->io, SIGINT, SIGTERM);
  impl.control_signals.emplace(impl.workers.front()->io, SIGHUP, SIGUSR1);
  if (Status s = impl.Listen(); !s.ok()) {
    spdlog::critical("{}", s.ToString());
    return 1;
  }
  Notify("READY=1\nSTATUS=serving");
  for (auto& worker : impl.workers) {
    for (Door door : {Door::kNative, Door::kHttp}) {
      if (!worker->acceptors[static_cast<std::size_t>(door)]) continue;
      asio::co_spawn(worker->io, impl.AcceptLoop(*worker, door),
                     [](std::exception_ptr e) { LogException(e, "accept loop"); });
    }
  }
  asio::co_spawn(impl.workers.front()->io, impl.WatchSignals(),
                 [](std::exception_ptr e) { LogException(e, "signals"); });
  asio::co_spawn(impl.workers.front()->io, impl.WatchControlSignals(),
                 [](std::exception_ptr e) { LogException(e, "signals"); });
  impl.expiry_timer.emplace(impl.workers.front()->io);
  asio::co_spawn(impl.workers.front()->io, impl.ExpirePartials(),
                 [](std::exception_ptr e) { LogException(e, "partial uploads"); });
  for (auto& worker : impl.workers) {
    worker->thread = std::thread([w = worker.get()] { w->io.run(); });
  }
  for (auto& worker : impl.workers) worker->thread.join();
  if (impl.cache) impl.cache->Shutdown();  // fills in progress stop at their next chunk
  impl.blocking_pool->join();
  if (impl.trace) impl.trace->Flush();
  if (impl.cache) {
    // The next start reads the index back instead of scanning, and keeps recency.
    if (Status s = impl.cache->SaveIndex(); !s.ok()) spdlog::warn("cache: {}", s.ToString());
  }
  spdlog::info("stopped");
  return 0;
}

LogSettings LogSettingsFor(const Config& config) {
  return LogSettings{.level = config.log_level,
                     .file = config.log_file,
                     .format = config.log_format == "json" ? LogFormat::kJson : LogFormat::kText,
                     .access = config.access_log};
}

}  // namespace ferry::server
