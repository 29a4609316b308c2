// Server: ferryd's event loops, listeners, signals and graceful stop.
//
// Thread model (docs/architecture.md): `threads` event-loop threads, each with its own
// io_context and its own SO_REUSEPORT listener, so a connection lives on one thread for its
// whole life and needs no locks. Work that may block on disk (open, stat, checksum, fsync)
// runs on a separate blocking pool; the event loops only move bytes.
#pragma once

#include <memory>
#include <string>

#include "server/config.h"

namespace ferry::server {

class Server {
 public:
  explicit Server(Config config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the stores, listens, serves until SIGINT/SIGTERM, drains, returns the exit code.
  int Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Logs go to stderr (journald takes them from there) at `level`.
void InitLogging(const std::string& level);

}  // namespace ferry::server
