// ferry bench's load runner: `connections` connections spread over `threads` event loops, each
// keeping up to `pipeline` requests in flight (or paced to a total `rate`, latency then counted
// from when each request was due, so a stall is not hidden: coordinated omission), until
// `requests` are done or `duration` is over. Speaks the native protocol, or HTTP/1.1 GETs
// (keep-alive) for comparing with other servers. A sample of replies is verified: GET bodies
// against the checksum in the reply (and against a local copy, if given), PUT replies against
// the checksum sent. Loopback or any address; plain TCP only.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/histogram.h"
#include "bench/workload.h"
#include "common/status.h"

namespace ferry::bench {

struct LoadOptions {
  std::string server = "127.0.0.1:7878";  // HOST:PORT (IPv4, or [IPv6]:PORT)
  unsigned connections = 64;
  unsigned threads = 1;
  std::chrono::milliseconds duration{10'000};  // ignored when requests > 0
  std::uint64_t requests = 0;                  // total; 0: run for `duration`
  Mix mix;
  std::uint64_t size = 4096;  // of each PUT
  // Names: `names` if not empty (chosen uniformly), else keys KeyName(prefix, 0..keys-1).
  std::vector<std::string> names;
  std::string prefix = "bench/";
  std::uint64_t keys = 1;
  double zipf = 0;  // 0: uniform popularity
  // Key i for the i-th request (in order), not a random one: `--populate` writes every key once.
  bool sequential = false;
  unsigned pipeline = 1;
  double rate = 0;              // requests/s over all connections; 0: as fast as replies come
  unsigned verify_every = 16;   // verify one reply in N (1: all); 0: none
  std::size_t read_size = 256 * 1024;
  bool http = false;               // HTTP/1.1 GET of http_path + name (GET only)
  std::string http_path = "/files/";
  std::filesystem::path verify_dir;  // expected bytes of each name (HTTP has no checksum)
  std::string token;                 // native: AUTH first; HTTP: Authorization: Bearer
  std::uint64_t seed = 1;
  // With `requests`: the whole run, whatever happens. With `duration`: that and 30 s more.
  std::chrono::seconds timeout{600};
};

struct LoadReport {
  std::uint64_t requests = 0;   // completed, errors included
  std::uint64_t errors = 0;     // failed requests and connections (RunLoad)
  std::uint64_t verified = 0;   // replies whose bytes or checksum were checked
  std::uint64_t verify_failures = 0;
  std::uint64_t by_op[3] = {};  // completed, by Op
  std::uint64_t bytes_in = 0;   // body bytes received (GET)
  std::uint64_t bytes_out = 0;  // body bytes sent (PUT)
  double seconds = 0;           // from the first request to the last reply
  Histogram latency;            // nanoseconds
  std::vector<std::string> error_samples;  // the first few, for the person reading
};

// OK, or a 400 that says why the options cannot work (no connections, a rate with
// pipelining, HTTP PUT, large PUTs with pipelining, --verify-dir with PUTs...).
Status CheckLoadOptions(const LoadOptions& options);
// Checks the options, then runs the load. 503 if the server cannot be reached at the start.
// Failures during the run are counted: each request that got an error reply, failed a check or
// was lost with its connection, and each connection that could not open.
Result<LoadReport> RunLoad(const LoadOptions& options);

}  // namespace ferry::bench
