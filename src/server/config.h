// ferryd's configuration: flags (CLI11) over an optional TOML file over these defaults.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ferry::server {

struct Config {
  // HOST:PORT of the native protocol; port 0 picks a free port (see ready_file).
  std::string listen = "127.0.0.1:7878";
  // HOST:PORT of HTTP/1.1 (docs/http.md); "off": none.
  std::string http_listen = "127.0.0.1:7879";
  std::filesystem::path data = "var/data";    // the data store, the source of truth
  // The data store in an S3 bucket instead of `data`: s3://BUCKET[/PREFIX] (docs/scale-out.md).
  std::string store;
  std::string s3_endpoint;  // required with an s3:// store
  std::string s3_region = "us-east-1";
  // Else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials.
  std::filesystem::path s3_credentials_file;
  // Changes made by other writers are seen within this (a conditional HEAD per name after it).
  std::chrono::seconds revalidate_after{30};
  std::uint64_t s3_part_size = 8 << 20;  // uploads above it are multipart
  unsigned s3_parallel_parts = 4;        // parts of one upload in flight
  std::chrono::seconds s3_timeout{30};   // a store request that moves nothing this long fails
  std::filesystem::path cache = "var/cache";  // the cache folder; empty: no cache
  std::uint64_t cache_max_bytes = std::uint64_t{1} << 30;  // never exceeded
  std::uint64_t cache_max_object = 0;  // larger files bypass the cache; 0: cache_max_bytes / 8
  std::string cache_policy = "s3fifo";  // docs/cache.md
  // Small hot files kept whole in memory and served without touching the disk
  // (service/hot_files.h); 0: none.
  std::uint64_t memory_cache_max_bytes = 64 << 20;
  std::uint64_t memory_cache_max_object = 64 << 10;
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
  // Logs (server/logging.h).
  std::string log_level = "info";             // trace, debug, info, warn, error, critical, off
  std::filesystem::path log_file;             // empty: stderr
  std::string log_format = "text";            // text, json
  std::string access_log;                     // "": with the log; "off"; or a file
  // Once listening, the bound addresses are written to this file atomically, the native
  // protocol's on the first line ("127.0.0.1:40213"), HTTP's on the second ("http
  // 127.0.0.1:40214") unless it is off: how tests and scripts learn ephemeral ports.
  std::filesystem::path ready_file;
  // On SIGINT/SIGTERM, transfers in flight get this long to finish before they are cut.
  std::chrono::milliseconds drain_timeout{10'000};

  // Security (docs/security.md).
  // Tokens (as SHA-256), roles and prefixes; empty: no authentication, which is allowed only
  // on loopback addresses unless allow_anonymous says otherwise.
  std::filesystem::path auth_file;
  bool allow_anonymous = false;
  // PEM certificate chain and key: TLS (1.2+) on both doors. Both or neither.
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  bool read_only = false;  // PUT and DEL get 403
  // Limits: each protects the server from one kind of abuse, none refuses a real client.
  unsigned max_connections = 20'000;        // both doors together; beyond: 503, then close
  unsigned max_connections_per_ip = 4'096;  // 0: no per-address limit
  std::chrono::seconds idle_timeout{60};    // a connection between requests; 0: never
  std::chrono::seconds header_timeout{20};  // from a request's first byte to its last header
  // While a body moves, at least min_rate bytes a second averaged over each rate_window
  // (slowloris, and readers that stop reading); 0: off.
  std::uint64_t min_rate = 1024;
  std::chrono::seconds rate_window{30};
  // A PUT that would leave less free space than this on the data store gets 507 first.
  std::uint64_t min_free = 64ull << 20;
};

// What ferryd is asked to do.
enum class Command { kServe, kHashToken };

// Where a Config comes from, kept to read it again on SIGHUP: the --config file and the
// options given on the command line, which win over the file's keys.
struct ConfigSource {
  std::filesystem::path file;                              // empty: none
  std::vector<std::pair<std::string, std::string>> flags;  // name without dashes, value text
};

// What the command line asked for.
struct Invocation {
  Command command = Command::kServe;
  Config config;
  ConfigSource source;
  bool exit_now = false;  // --help or --version printed; exit with exit_code
  int exit_code = 0;
};

// Parses argv and the --config file it names. Errors (unknown flags or keys, bad values,
// cache folder inside the data folder) print a clear message and set exit_now with code 2.
// `ferryd [options] print-config [--man]` prints RenderConfigFile or RenderConfigManPage
// and sets exit_now.
Invocation ParseCommandLine(int argc, char** argv);

// Reads the file, applies the flags over it, validates: what ParseCommandLine and a reload do.
Result<Config> LoadConfig(const ConfigSource& source);

// The options whose values differ, by whether a reload applies them (`live`) or not.
struct ConfigChanges {
  std::vector<std::string> live;
  std::vector<std::string> restart;
};
ConfigChanges CompareConfigs(const Config& before, const Config& after);
// Copies the options a reload applies from `from` into `to`.
void ApplyLiveOptions(const Config& from, Config& to);
// What a reload runs with: `running` with the live options of `loaded`, validated as a whole.
Result<Config> ReloadedConfig(const Config& running, const Config& loaded);

// The configuration as a commented TOML file: every key with its help; those that differ from
// the defaults set, the others commented out at their defaults. Parses back to `config`.
std::string RenderConfigFile(const Config& config);
// ferryd.toml(5) in roff, from the same option table as --help.
std::string RenderConfigManPage();

// Applies a TOML config file's text over `config`, skipping the keys in `given` (options set
// on the command line win). Keys are the flags' names; `source` names the file in errors.
Status ApplyConfigText(std::string_view text, std::string_view source, Config& config,
                       const std::vector<std::string>& given = {});

// Checks a Config for values that cannot work (unparsable address, overlapping folders, no
// authentication on a public address without allow_anonymous).
Status ValidateConfig(const Config& config);

// True for 127.0.0.0/8, ::1 and "localhost" (with or without a port).
bool IsLoopback(std::string_view host_port);

}  // namespace ferry::server
