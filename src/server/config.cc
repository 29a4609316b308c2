#include "server/config.h"

#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

#include "cache/policy.h"
#include "common/units.h"

namespace ferry::server {
namespace {

// Keys of the TOML file; each is also a flag of the same name.
constexpr std::string_view kKnownKeys[] = {"listen",           "http-listen",
                                           "data",             "cache",
                                           "cache-max-bytes",  "cache-max-object",
                                           "cache-policy",     "max-upload",
                                           "partial-ttl",
                                           "trace-out",        "trace-max-bytes",
                                           "threads",          "log-level",
                                           "drain-timeout-ms"};

bool IsInside(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  auto a = std::filesystem::weakly_canonical(inner);
  auto b = std::filesystem::weakly_canonical(outer);
  auto [end, _] = std::mismatch(b.begin(), b.end(), a.begin(), a.end());
  return end == b.end();
}

Status ApplyFile(const std::filesystem::path& file, const CLI::App& app, Config& config) {
  toml::table table;
  try {
    table = toml::parse_file(file.string());
  } catch (const toml::parse_error& error) {
    return Status::BadRequest(fmt::format("{}: {}", file.string(), error.description()));
  }
  for (auto&& [key, value] : table) {
    std::string_view name = key.str();
    if (std::find(std::begin(kKnownKeys), std::end(kKnownKeys), name) == std::end(kKnownKeys)) {
      return Status::BadRequest(fmt::format("{}: unknown key '{}'", file.string(), name));
    }
    if (app.count("--" + std::string(name)) > 0) continue;  // the flag wins
    std::optional<std::string> text = value.value<std::string>();
    std::optional<std::int64_t> number = value.value<std::int64_t>();
    bool ok;
    std::string data_text = config.data.string(), cache_text = config.cache.string();
    std::string trace_text = config.trace_out.string();
    if (name == "threads") {
      ok = number && *number >= 0 && *number <= 1024;
      if (ok) config.threads = static_cast<unsigned>(*number);
    } else if (name == "partial-ttl") {
      // Seconds, or a duration text: "24h".
      Result<std::chrono::seconds> ttl =
          number ? ParseDuration(std::to_string(*number)) : ParseDuration(text.value_or(""));
      ok = ttl.ok();
      if (ok) config.partial_ttl = *ttl;
    } else if (name == "drain-timeout-ms") {
      ok = number && *number >= 0;
      if (ok) config.drain_timeout = std::chrono::milliseconds(*number);
    } else if (name == "cache-max-bytes" || name == "cache-max-object" ||
               name == "trace-max-bytes" || name == "max-upload") {
      // A size: "512M", or a plain number of bytes.
      std::uint64_t& target = name == "cache-max-bytes"    ? config.cache_max_bytes
                              : name == "cache-max-object" ? config.cache_max_object
                              : name == "max-upload"       ? config.max_upload
                                                           : config.trace_max_bytes;
      if (number) {
        ok = *number >= 0;
        if (ok) target = static_cast<std::uint64_t>(*number);
      } else {
        Result<std::uint64_t> size = ParseByteSize(text.value_or(""));
        ok = size.ok();
        if (ok) target = *size;
      }
    } else {
      ok = text.has_value();
      std::string& target = name == "listen"  ? config.listen
                            : name == "http-listen" ? config.http_listen
                            : name == "cache-policy" ? config.cache_policy
                            : name == "trace-out" ? trace_text
                            : name == "data"  ? data_text
                            : name == "cache" ? cache_text
                                              : config.log_level;
      if (ok) target = *text;
    }
    if (!ok) return Status::BadRequest(fmt::format("{}: bad value for '{}'", file.string(), name));
    config.data = data_text;
    config.cache = cache_text;
    config.trace_out = trace_text;
  }
  return Status::Ok();
}

}  // namespace

Status ValidateConfig(const Config& config) {
  if (config.listen.rfind(':') == std::string::npos) {
    return Status::BadRequest(fmt::format("--listen wants HOST:PORT, got '{}'", config.listen));
  }
  if (config.http_listen != "off" && config.http_listen.rfind(':') == std::string::npos) {
    return Status::BadRequest(
        fmt::format("--http-listen wants HOST:PORT or off, got '{}'", config.http_listen));
  }
  // SO_REUSEPORT would let both doors bind one port and split its connections between them.
  if (config.http_listen == config.listen && !config.listen.ends_with(":0")) {
    return Status::BadRequest("--listen and --http-listen must differ");
  }
  if (!config.cache.empty() &&
      (IsInside(config.cache, config.data) || IsInside(config.data, config.cache))) {
    return Status::BadRequest("the cache folder and the data folder must not contain each other");
  }
  if (!cache::MakePolicy(config.cache_policy, {})) {
    return Status::BadRequest(fmt::format("unknown --cache-policy '{}' (known: {})",
                                          config.cache_policy,
                                          fmt::join(cache::PolicyNames(), ", ")));
  }
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn",
                                                 "error", "critical", "off"};
  if (std::find(std::begin(kLevels), std::end(kLevels), config.log_level) == std::end(kLevels)) {
    return Status::BadRequest(fmt::format("unknown log level '{}'", config.log_level));
  }
  return Status::Ok();
}

Invocation ParseCommandLine(int argc, char** argv) {
  Invocation result;
  Config& config = result.config;
  CLI::App app{"ferryd: serves files over the ferry protocol, with a cache of hot files", "ferryd"};
  app.set_version_flag("--version", "ferryd " FERRY_VERSION);
  std::string config_file;
  std::int64_t drain_ms = config.drain_timeout.count();
  std::string data = config.data.string(), cache = config.cache.string(), ready;
  app.add_option("--config", config_file, "TOML file with any of the options below (flags win)");
  app.add_option("--listen", config.listen, "HOST:PORT for the native protocol (port 0: any free)")
      ->capture_default_str();
  app.add_option("--http-listen", config.http_listen,
                 "HOST:PORT for HTTP/1.1 (docs/http.md); off: no HTTP")
      ->capture_default_str();
  app.add_option("--data", data, "folder of the data store")->capture_default_str();
  app.add_option("--cache", cache, "folder of the cache ('' for none)")->capture_default_str();
  std::string max_bytes = "1G", max_object = "0";
  app.add_option("--cache-max-bytes", max_bytes, "the cache never holds more (e.g. 512M, 10G)")
      ->capture_default_str();
  app.add_option("--cache-max-object", max_object,
                 "larger files are served from the data store, never cached (0: 1/8 of the cache)")
      ->capture_default_str();
  app.add_option("--cache-policy", config.cache_policy,
                 fmt::format("eviction policy: {}", fmt::join(cache::PolicyNames(), ", ")))
      ->capture_default_str();
  std::string max_upload = "1T";
  app.add_option("--max-upload", max_upload, "a larger upload gets 413 (0: no limit)")
      ->capture_default_str();
  std::string partial_ttl = "24h";
  app.add_option("--partial-ttl", partial_ttl,
                 "keep an interrupted resumable upload this long (90s, 30m, 24h, 7d)")
      ->capture_default_str();
  std::string trace_out, trace_max = "100M";
  app.add_option("--trace-out", trace_out, "record every GET here for ferry-sim (CSV)");
  app.add_option("--trace-max-bytes", trace_max, "rotate the trace to FILE.1 past this size")
      ->capture_default_str();
  app.add_option("--threads", config.threads, "event-loop threads (0: one per core)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  app.add_option("--log-level", config.log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str();
  app.add_option("--drain-timeout-ms", drain_ms,
                 "on SIGTERM, how long transfers in flight may take to finish")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--ready-file", ready, "write the bound address here once listening");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    result.exit_now = true;
    result.exit_code = app.exit(error) == 0 ? 0 : 2;
    return result;
  }
  config.data = data;
  config.cache = cache;
  Status status;
  config.trace_out = trace_out;
  for (auto [text, target] : {std::pair{&max_bytes, &config.cache_max_bytes},
                              std::pair{&max_object, &config.cache_max_object},
                              std::pair{&trace_max, &config.trace_max_bytes},
                              std::pair{&max_upload, &config.max_upload}}) {
    Result<std::uint64_t> size = ParseByteSize(*text);
    if (size.ok()) *target = *size;
    else if (status.ok()) status = size.status();
  }
  if (Result<std::chrono::seconds> ttl = ParseDuration(partial_ttl); ttl.ok()) {
    config.partial_ttl = *ttl;
  } else if (status.ok()) {
    status = ttl.status();
  }
  config.ready_file = ready;
  config.drain_timeout = std::chrono::milliseconds(drain_ms);
  if (status.ok() && !config_file.empty()) status = ApplyFile(config_file, app, config);
  if (status.ok()) status = ValidateConfig(config);
  if (!status.ok()) {
    std::cerr << "ferryd: " << status.message() << "\n";
    result.exit_now = true;
    result.exit_code = 2;
  }
  if (config.threads == 0) config.threads = std::max(1u, std::thread::hardware_concurrency());
  return result;
}

}  // namespace ferry::server
