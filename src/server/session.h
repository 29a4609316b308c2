// One native-protocol connection: read a request line, call the service, stream the reply.
// Internal to the server; only server.cc and session.cc include it (Asio stays out of the
// widely included headers).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <list>

#include "service/file_service.h"

namespace ferry::server {

// What a session shares with its event-loop thread. Touched only from that thread, except
// `stopping`, which the signal handler's thread sets.
struct SessionContext {
  service::FileService& service;
  boost::asio::thread_pool& blocking_pool;
  std::atomic<bool>& stopping;
};

// A live connection, registered with its event loop so a stop can reach it.
struct SessionHandle {
  boost::asio::ip::tcp::socket* socket = nullptr;
  bool busy = false;  // inside a request; idle sessions are closed at once on stop
};

boost::asio::awaitable<void> RunSession(SessionContext context, boost::asio::ip::tcp::socket socket,
                                        std::list<SessionHandle>& registry);

}  // namespace ferry::server
