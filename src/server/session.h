// One connection of either door: read a request, call the service, stream the reply.
// Internal to the server; only the server's own sources include it (Asio stays out of the
// widely included headers).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <list>
#include <memory>

#include "auth/auth.h"
#include "server/limits.h"
#include "server/logging.h"
#include "server/stream.h"
#include "service/file_service.h"
#include "service/metrics.h"

namespace ferry::server {

// What a session shares with its event-loop thread. Touched only from that thread, except
// `stopping`, which the signal handler's thread sets, the metrics (atomics) and the failure
// limiter (locked).
struct SessionContext {
  service::FileService& service;
  service::RequestMetrics& metrics;
  boost::asio::thread_pool& blocking_pool;
  std::atomic<bool>& stopping;
  // The settings a reload may change, as they were when the connection began.
  std::shared_ptr<const auth::AuthFile> auth;  // null: no authentication (everyone may do everything)
  auth::FailureLimiter& failures;              // failed authentications per client address
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain TCP
  StreamLimits limits;
};

// A live connection, registered with its event loop so a stop can reach it.
struct SessionHandle {
  boost::asio::ip::tcp::socket* socket = nullptr;
  bool busy = false;  // inside a request; idle sessions are closed at once on stop
};

// Registers a connection with its event loop and counts it open, for as long as it lives.
class SessionRegistration {
 public:
  SessionRegistration(std::list<SessionHandle>& registry, boost::asio::ip::tcp::socket& socket,
                      service::RequestMetrics& metrics, service::Door door)
      : registry_(registry), handle_(registry.insert(registry.end(), {&socket, false})),
        metrics_(metrics), door_(door) {
    metrics_.ConnectionOpened(door_);
  }
  ~SessionRegistration() {
    metrics_.ConnectionClosed(door_);
    registry_.erase(handle_);
  }
  SessionRegistration(const SessionRegistration&) = delete;
  SessionRegistration& operator=(const SessionRegistration&) = delete;
  SessionHandle& handle() { return *handle_; }

 private:
  std::list<SessionHandle>& registry_;
  std::list<SessionHandle>::iterator handle_;
  service::RequestMetrics& metrics_;
  service::Door door_;
};

// The native protocol (docs/protocol.md) on one connection, which holds `ticket` until it ends.
boost::asio::awaitable<void> RunSession(SessionContext context, boost::asio::ip::tcp::socket socket,
                                        std::list<SessionHandle>& registry,
                                        ConnectionLimiter::Ticket ticket);
// HTTP/1.1 (docs/http.md) on one connection.
boost::asio::awaitable<void> RunHttpSession(SessionContext context,
                                            boost::asio::ip::tcp::socket socket,
                                            std::list<SessionHandle>& registry,
                                            ConnectionLimiter::Ticket ticket);
// What a connection's first moments share on both doors: TLS's handshake when it is on.
// False if the connection cannot go on.
boost::asio::awaitable<bool> StartSession(const SessionContext& context, Stream& stream,
                                          std::string_view peer);
// Authenticates `token` for the client at `address`: its identity, or 401 for an unknown
// token (the failure is recorded and logged), or 429 while the address has failed too often.
Result<auth::Identity> Authenticate(const SessionContext& context, std::string_view token,
                                    const std::string& address, std::string_view peer);


// What the metrics and the access log say of a request whose client went away mid-body
// (nginx's code).
inline constexpr int kClientGone = 499;

// Where a request began: its time and the connection's byte counts then.
struct RequestStart {
  std::chrono::steady_clock::time_point time;
  std::uint64_t sent;
  std::uint64_t received;
};
inline RequestStart StartRequest(const Stream& stream) {
  return {std::chrono::steady_clock::now(), stream.bytes_sent(), stream.bytes_received()};
}
// Ends a request on either door: counts it in the metrics (by `command` and `line.status`) and
// writes its access line, `line` with its time, door, duration and bytes filled in here.
void FinishRequest(const SessionContext& context, const Stream& stream, const RequestStart& start,
                   service::Door door, service::Command command, AccessRecord line);

}  // namespace ferry::server
