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
#include "server/logging.h"

namespace ferry::server {

class Server {
 public:
  // `source` is what SIGHUP reads again.
  Server(Config config, ConfigSource source);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the stores, listens (then tells systemd READY=1), serves until SIGINT/SIGTERM,
  // drains, returns the exit code. SIGHUP reloads the configuration, SIGUSR1 reopens the logs.
  int Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The logs `config` asks for (ConfigureLogging).
LogSettings LogSettingsFor(const Config& config);

}  // namespace ferry::server
