// ferryd's configuration: flags (CLI11) over an optional TOML file over these defaults.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "common/status.h"

namespace ferry::server {

struct Config {
  // HOST:PORT of the native protocol; port 0 picks a free port (see ready_file).
  std::string listen = "127.0.0.1:7878";
  // HOST:PORT of HTTP/1.1 (docs/http.md); "off": none.
  std::string http_listen = "127.0.0.1:7879";
  std::filesystem::path data = "var/data";    // the data store, the source of truth
  std::filesystem::path cache = "var/cache";  // the cache folder; empty: no cache
  std::uint64_t cache_max_bytes = std::uint64_t{1} << 30;  // never exceeded
  std::uint64_t cache_max_object = 0;  // larger files bypass the cache; 0: cache_max_bytes / 8
  std::string cache_policy = "s3fifo";  // docs/cache.md
  // An upload above this gets 413, on both doors; 0: no limit. A safety net against a client
  // that streams forever, not a quota: 1 TiB refuses no real file.
  std::uint64_t max_upload = std::uint64_t{1} << 40;
  // Bytes of interrupted resumable uploads (docs/protocol.md, "Resuming a PUT") are kept this
  // long after their last byte, then removed.
  std::chrono::seconds partial_ttl = std::chrono::hours(24);
  // Every GET is appended to this CSV for ferry-sim (timestamp,name,size); empty: off.
  std::filesystem::path trace_out;
  std::uint64_t trace_max_bytes = 100 << 20;  // then FILE.1 replaces the old one
  unsigned threads = 0;                       // event-loop threads; 0: one per core
  std::string log_level = "info";             // trace, debug, info, warn, error, off
  // Once listening, the bound addresses are written to this file atomically, the native
  // protocol's on the first line ("127.0.0.1:40213"), HTTP's on the second ("http
  // 127.0.0.1:40214") unless it is off: how tests and scripts learn ephemeral ports.
  std::filesystem::path ready_file;
  // On SIGINT/SIGTERM, transfers in flight get this long to finish before they are cut.
  std::chrono::milliseconds drain_timeout{10'000};
};

// What the command line asked for.
struct Invocation {
  Config config;
  bool exit_now = false;  // --help or --version printed; exit with exit_code
  int exit_code = 0;
};

// Parses argv and the --config file it names. Errors (unknown flags or keys, bad values,
// cache folder inside the data folder) print a clear message and set exit_now with code 2.
Invocation ParseCommandLine(int argc, char** argv);

// Checks a Config for values that cannot work (unparsable address, overlapping folders).
Status ValidateConfig(const Config& config);

}  // namespace ferry::server
