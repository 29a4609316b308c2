#include "server/config.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

#include "cache/policy.h"
#include "common/units.h"
#include "store/s3_protocol.h"

namespace ferry::server {
namespace {

// What a value is: how --help shows it, and how print-config writes it in TOML.
enum class Kind { kText, kSize, kDuration, kCount, kSwitch };
constexpr bool kLive = true;      // a reload (SIGHUP) applies it
constexpr bool kRestart = false;  // a change is logged as needing a restart

// One option: a flag `--name` and a TOML key `name`, both read as text and converted here,
// so the command line and the file cannot disagree on what a value means.
struct Option {
  const char* name;
  const char* help;
  bool live;
  Kind kind;
  Status (*apply)(std::string_view text, Config& config);
  std::string (*show)(const Config& config);  // as a flag would give it: "30s", "1G"
};

Status Size(std::string_view text, std::uint64_t& target) {
  Result<std::uint64_t> size = ParseByteSize(text);
  if (!size.ok()) return size.status();
  target = *size;
  return Status::Ok();
}

Status Duration(std::string_view text, std::chrono::seconds& target) {
  Result<std::chrono::seconds> duration = ParseDuration(text);
  if (!duration.ok()) return duration.status();
  target = *duration;
  return Status::Ok();
}

Status Count(std::string_view text, unsigned& target, std::uint64_t max) {
  std::uint64_t number = 0;
  if (!ParseUint(text, number) || number > max) {
    return Status::BadRequest(fmt::format("'{}' is not a number from 0 to {}", text, max));
  }
  target = static_cast<unsigned>(number);
  return Status::Ok();
}

Status Switch(std::string_view text, bool& target) {
  if (text != "true" && text != "false") {
    return Status::BadRequest(fmt::format("'{}' is not true or false", text));
  }
  target = text == "true";
  return Status::Ok();
}

// The largest binary unit that divides it exactly: "1G", "64M", "1000".
std::string ShowSize(std::uint64_t bytes) {
  static constexpr std::pair<std::uint64_t, char> kUnits[] = {
      {kGiB * 1024, 'T'}, {kGiB, 'G'}, {kMiB, 'M'}, {kKiB, 'K'}};
  for (auto [unit, letter] : kUnits) {
    if (bytes != 0 && bytes % unit == 0) return fmt::format("{}{}", bytes / unit, letter);
  }
  return std::to_string(bytes);
}

template <typename T>
std::string Show(const T& value) {
  if constexpr (std::is_same_v<T, std::chrono::seconds>) return fmt::format("{}s", value.count());
  else if constexpr (std::is_same_v<T, std::filesystem::path>) return value.string();
  else if constexpr (std::is_same_v<T, bool>) return value ? "true" : "false";
  else return fmt::format("{}", value);
}

#define FERRY_TEXT(field) Kind::kText, \
  [](std::string_view t, Config& c) { c.field = std::string(t); return Status::Ok(); }, \
  [](const Config& c) { return Show(c.field); }
#define FERRY_SIZE(field) Kind::kSize, \
  [](std::string_view t, Config& c) { return Size(t, c.field); }, \
  [](const Config& c) { return ShowSize(c.field); }
#define FERRY_DURATION(field) Kind::kDuration, \
  [](std::string_view t, Config& c) { return Duration(t, c.field); }, \
  [](const Config& c) { return Show(c.field); }
#define FERRY_COUNT(field, max) Kind::kCount, \
  [](std::string_view t, Config& c) { return Count(t, c.field, max); }, \
  [](const Config& c) { return Show(c.field); }
#define FERRY_SWITCH(field) Kind::kSwitch, \
  [](std::string_view t, Config& c) { return Switch(t, c.field); }, \
  [](const Config& c) { return Show(c.field); }

const Option kOptions[] = {
    {"listen", "HOST:PORT for the native protocol (port 0: any free)", kRestart, FERRY_TEXT(listen)},
    {"http-listen", "HOST:PORT for HTTP/1.1 (docs/http.md); off: no HTTP", kRestart,
     FERRY_TEXT(http_listen)},
    {"data", "folder of the data store", kRestart, FERRY_TEXT(data)},
    {"store", "s3://BUCKET[/PREFIX]: the data store is an S3 bucket, not --data "
              "(docs/scale-out.md)", kRestart, FERRY_TEXT(store)},
    {"s3-endpoint", "the S3 service's URL (http://127.0.0.1:7480, https://s3.REGION.amazonaws.com)",
     kRestart, FERRY_TEXT(s3_endpoint)},
    {"s3-region", "the region requests are signed for", kRestart, FERRY_TEXT(s3_region)},
    {"s3-credentials-file", "AWS credentials file (else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                            "else ~/.aws/credentials)", kRestart, FERRY_TEXT(s3_credentials_file)},
    {"revalidate-after", "trust what is known of an S3 object this long, then ask again "
                         "(If-None-Match)", kRestart, FERRY_DURATION(revalidate_after)},
    {"s3-part-size", "uploads above it go up in parts of this size (5M to 5G)", kRestart,
     FERRY_SIZE(s3_part_size)},
    {"s3-parallel-parts", "parts of one upload in flight at once", kRestart,
     FERRY_COUNT(s3_parallel_parts, 64)},
    {"s3-timeout", "an S3 request that moves no byte this long is retried, then fails", kRestart,
     FERRY_DURATION(s3_timeout)},
    {"cache", "folder of the cache ('' for none)", kRestart, FERRY_TEXT(cache)},
    {"cache-max-bytes", "the cache never holds more (e.g. 512M, 10G)", kLive,
     FERRY_SIZE(cache_max_bytes)},
    {"cache-max-object", "larger files are served from the data store, never cached (0: 1/8 "
                         "of the cache)", kLive, FERRY_SIZE(cache_max_object)},
    {"cache-policy", "eviction policy (docs/cache.md)", kRestart, FERRY_TEXT(cache_policy)},
    {"memory-cache-max-bytes", "small hot files kept whole in memory, served without disk access "
                               "(0: off; docs/performance.md)", kRestart, FERRY_SIZE(memory_cache_max_bytes)},
    {"memory-cache-max-object", "larger files are not kept in memory", kRestart,
     FERRY_SIZE(memory_cache_max_object)},
    {"max-upload", "a larger upload gets 413 (0: no limit)", kLive, FERRY_SIZE(max_upload)},
    {"partial-ttl", "keep an interrupted resumable upload this long (90s, 30m, 24h, 7d)", kRestart,
     FERRY_DURATION(partial_ttl)},
    {"trace-out", "record every GET here for ferry-sim (CSV)", kRestart, FERRY_TEXT(trace_out)},
    {"trace-max-bytes", "rotate the trace to FILE.1 past this size", kRestart,
     FERRY_SIZE(trace_max_bytes)},
    {"threads", "event-loop threads (0: one per core)", kRestart, FERRY_COUNT(threads, 1024)},
    {"log-level", "trace|debug|info|warn|error|critical|off", kLive, FERRY_TEXT(log_level)},
    {"log-file", "write the log to this file, not stderr (reopened on SIGUSR1)", kLive,
     FERRY_TEXT(log_file)},
    {"log-format", "text or json (one object per line)", kLive, FERRY_TEXT(log_format)},
    {"access-log", "a line per request: '' (with the log), off, or a file of its own", kLive,
     FERRY_TEXT(access_log)},
    {"drain-timeout-ms", "on SIGTERM, how long transfers in flight may take to finish", kRestart,
     Kind::kCount, [](std::string_view t, Config& c) {
       std::uint64_t ms = 0;
       if (!ParseUint(t, ms)) return Status::BadRequest(fmt::format("'{}' is not a number", t));
       c.drain_timeout = std::chrono::milliseconds(ms);
       return Status::Ok();
     },
     [](const Config& c) { return Show(c.drain_timeout.count()); }},
    {"ready-file", "write the bound addresses here once listening", kRestart, FERRY_TEXT(ready_file)},
    {"auth-file", "tokens and roles (TOML, docs/security.md); none: no authentication, "
                  "loopback only", kLive, FERRY_TEXT(auth_file)},
    {"allow-anonymous", "serve a non-loopback address without --auth-file", kLive,
     FERRY_SWITCH(allow_anonymous)},
    {"tls-cert", "PEM certificate chain: TLS 1.2+ on both doors (with --tls-key)", kLive,
     FERRY_TEXT(tls_cert)},
    {"tls-key", "PEM private key of --tls-cert", kLive, FERRY_TEXT(tls_key)},
    {"read-only", "refuse PUT and DEL (403)", kLive, FERRY_SWITCH(read_only)},
    {"max-connections", "open connections, both doors (beyond: 503 and close)", kLive,
     FERRY_COUNT(max_connections, 10'000'000)},
    {"max-connections-per-ip", "open connections from one address (0: no limit)", kLive,
     FERRY_COUNT(max_connections_per_ip, 10'000'000)},
    {"idle-timeout", "close a connection idle between requests this long (0: never)", kLive,
     FERRY_DURATION(idle_timeout)},
    {"header-timeout", "a request line or header must arrive within this", kLive,
     FERRY_DURATION(header_timeout)},
    {"min-rate", "bytes a second a body must move, over each --rate-window (0: off)", kLive,
     FERRY_SIZE(min_rate)},
    {"rate-window", "the window over which --min-rate is checked", kLive,
     FERRY_DURATION(rate_window)},
    {"min-free", "free space a PUT must leave on the data store (else 507)", kRestart,
     FERRY_SIZE(min_free)},
};

#undef FERRY_TEXT
#undef FERRY_SIZE
#undef FERRY_DURATION
#undef FERRY_COUNT
#undef FERRY_SWITCH

const Option* FindOption(std::string_view name) {
  for (const Option& option : kOptions) {
    if (name == option.name) return &option;
  }
  return nullptr;
}

// Canonical as far as the path exists, lexical beyond. Never throws: a folder the file system
// cannot resolve (a name over NAME_MAX, no permission) is still a path to compare, and
// ValidateConfig must answer with a Status, not an exception.
std::filesystem::path Resolved(const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::path resolved = std::filesystem::weakly_canonical(path, error);
  if (!error) return resolved;
  return std::filesystem::absolute(path, error).lexically_normal();
}

bool IsInside(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  auto a = Resolved(inner);
  auto b = Resolved(outer);
  auto [end, _] = std::mismatch(b.begin(), b.end(), a.begin(), a.end());
  return end == b.end();
}

// A TOML value as the text a flag would carry.
std::optional<std::string> AsText(const toml::node& value) {
  if (auto text = value.value_exact<std::string>()) return *text;
  if (auto number = value.value_exact<std::int64_t>()) {
    if (*number >= 0) return std::to_string(*number);
    return std::nullopt;
  }
  if (auto flag = value.value_exact<bool>()) return *flag ? "true" : "false";
  return std::nullopt;
}

}  // namespace

bool IsLoopback(std::string_view host_port) {
  std::string_view host = host_port.substr(0, host_port.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

Status ApplyConfigText(std::string_view text, std::string_view source, Config& config,
                       const std::vector<std::string>& given) {
  toml::table table;
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    return Status::BadRequest(fmt::format("{}:{}: {}", source, error.source().begin.line,
                                          error.description()));
  }
  for (auto&& [key, value] : table) {
    const Option* option = FindOption(key.str());
    if (option == nullptr) {
      return Status::BadRequest(fmt::format("{}: unknown key '{}'", source, key.str()));
    }
    if (std::find(given.begin(), given.end(), key.str()) != given.end()) continue;
    std::optional<std::string> as_text = AsText(value);
    Status applied = as_text ? option->apply(*as_text, config)
                             : Status::BadRequest("wants a string, a number or true/false");
    if (!applied.ok()) {
      return Status::BadRequest(fmt::format("{}:{}: bad value for '{}': {}", source,
                                            value.source().begin.line, key.str(),
                                            applied.message()));
    }
  }
  return Status::Ok();
}

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
  if (!config.store.empty()) {
    if (Result<store::s3::Location> location = store::s3::ParseLocation(config.store); !location.ok()) {
      return Status::BadRequest("--store: " + location.status().message());
    }
    if (config.s3_endpoint.empty()) return Status::BadRequest("--store s3://... needs --s3-endpoint");
    // Part sizes and the like are checked where they are used: OpenS3Store.
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
  if (config.log_format != "text" && config.log_format != "json") {
    return Status::BadRequest(fmt::format("--log-format wants text or json, got '{}'", config.log_format));
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return Status::BadRequest("--tls-cert and --tls-key go together");
  }
  bool is_public = !IsLoopback(config.listen) ||
                   (config.http_listen != "off" && !IsLoopback(config.http_listen));
  if (is_public && config.auth_file.empty() && !config.allow_anonymous) {
    return Status::BadRequest(
        "listening beyond loopback without --auth-file would let anyone read and write; give "
        "--auth-file (docs/security.md), or --allow-anonymous if that is really meant");
  }
  if (config.header_timeout.count() == 0) return Status::BadRequest("--header-timeout must be > 0");
  if (config.min_rate > 0 && config.rate_window.count() == 0) {
    return Status::BadRequest("--rate-window must be > 0 when --min-rate is on");
  }
  return Status::Ok();
}

Result<Config> LoadConfig(const ConfigSource& source) {
  Config config;
  std::vector<std::string> given;
  for (const auto& [name, text] : source.flags) given.push_back(name);
  if (!source.file.empty()) {
    std::ifstream in(source.file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return Status::BadRequest(fmt::format("cannot read {}", source.file.string()));
    if (Status s = ApplyConfigText(text.str(), source.file.string(), config, given); !s.ok()) return s;
  }
  for (const auto& [name, text] : source.flags) {
    const Option* option = FindOption(name);
    if (option == nullptr) return Status::BadRequest(fmt::format("unknown option --{}", name));
    if (Status s = option->apply(text, config); !s.ok()) {
      return Status::BadRequest(fmt::format("--{}: {}", name, s.message()));
    }
  }
  if (Status s = ValidateConfig(config); !s.ok()) return s;
  return config;
}

ConfigChanges CompareConfigs(const Config& before, const Config& after) {
  ConfigChanges changes;
  for (const Option& option : kOptions) {
    if (option.show(before) == option.show(after)) continue;
    (option.live ? changes.live : changes.restart).emplace_back(option.name);
  }
  return changes;
}

void ApplyLiveOptions(const Config& from, Config& to) {
  for (const Option& option : kOptions) {
    if (option.live) (void)option.apply(option.show(from), to);  // a value it showed parses
  }
}

Result<Config> ReloadedConfig(const Config& running, const Config& loaded) {
  Config effective = running;
  ApplyLiveOptions(loaded, effective);
  // Checked as it will run: a file that moves `listen` to loopback and drops the auth file
  // must not leave the running public address without authentication.
  if (Status valid = ValidateConfig(effective); !valid.ok()) {
    return Status::BadRequest(fmt::format("with the running addresses and stores: {}", valid.message()));
  }
  return effective;
}

namespace {

// A TOML basic string.
std::string TomlString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') out += fmt::format("\\{}", c);
    else if (byte < 0x20 || byte == 0x7f) out += fmt::format("\\u{:04x}", byte);
    else out += c;
  }
  return out + "\"";
}

std::string TomlValue(const Option& option, const Config& config) {
  std::string shown = option.show(config);
  if (option.kind == Kind::kCount || option.kind == Kind::kSwitch) return shown;
  return TomlString(shown);
}

// Text for roff: backslashes escaped, and no line may start with a control character.
std::string Roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else out += c;
  }
  if (!out.empty() && (out.front() == '.' || out.front() == '\'')) out.insert(0, "\\&");
  return out;
}

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kSize: return "SIZE";
    case Kind::kDuration: return "DURATION";
    case Kind::kCount: return "INTEGER";
    case Kind::kSwitch: return "BOOLEAN";
    case Kind::kText: break;
  }
  return "STRING";
}

}  // namespace

std::string RenderConfigFile(const Config& config) {
  const Config defaults;
  std::string out =
      "# ferryd's configuration (ferryd.toml(5)). Each key is a ferryd flag without its dashes;\n"
      "# a flag given on the command line wins over the file. Sizes: \"512M\", \"10G\";\n"
      "# durations: \"90s\", \"30m\", \"24h\", \"7d\". Commented lines show the defaults.\n"
      "# `systemctl reload ferryd` (SIGHUP) applies the keys marked [reload]; the others need a\n"
      "# restart. Generated by `ferryd print-config` from the same table as `ferryd --help`.\n";
  for (const Option& option : kOptions) {
    bool set = option.show(config) != option.show(defaults);
    out += fmt::format("\n# {}{}\n{}{} = {}\n", option.help, option.live ? " [reload]" : "",
                       set ? "" : "# ", option.name, TomlValue(option, set ? config : defaults));
  }
  return out;
}

std::string RenderConfigManPage() {
  const Config defaults;
  std::string out = fmt::format(
      ".TH FERRYD.TOML 5 \"\" \"ferry {}\" \"File Formats Manual\"\n"
      ".SH NAME\n"
      "ferryd.toml \\- configuration file of the ferry file server\n"
      ".SH SYNOPSIS\n"
      ".I /etc/ferry/ferryd.toml\n"
      ".SH DESCRIPTION\n"
      ".B ferryd\n"
      "reads this TOML file when started with \\fB\\-\\-config\\fR \\fIFILE\\fR, and again on "
      "SIGHUP.\n"
      "Each key is the name of a\n.BR ferryd (8)\n"
      "flag without its leading dashes and takes the same values: sizes as \"512M\" or \"10G\" "
      "(binary multiples), durations as \"90s\", \"30m\", \"24h\" or \"7d\", switches as true or "
      "false, counts as integers.\n"
      "A flag given on the command line wins over the file.\n"
      "An unknown key or a bad value is an error that names the file and the key (and the line "
      "of a bad value): ferryd does not start, and a reload keeps the configuration it has.\n"
      ".SH KEYS\n",
      FERRY_VERSION);
  for (const Option& option : kOptions) {
    std::string help = option.help;
    help.front() = static_cast<char>(std::toupper(static_cast<unsigned char>(help.front())));
    out += fmt::format(".TP\n.BI \"{} = \" {}\n{}.\nDefault: {}. {}\n", Roff(option.name),
                       KindName(option.kind), Roff(help), Roff(TomlValue(option, defaults)),
                       option.live ? "Applied on reload." : "A change needs a restart.");
  }
  out +=
      ".SH RELOAD\n"
      "On SIGHUP (\\fBsystemctl reload ferryd\\fR) ferryd reads the file again. The keys marked "
      "\"Applied on reload\" take effect for new connections and requests; connections already "
      "open keep the settings they began with. A change to any other key is logged as needing a "
      "restart and ignored until then. A file that does not parse or validate is refused with an "
      "error in the log; the running configuration stays.\n"
      ".SH EXAMPLE\n"
      ".nf\n"
      "listen = \"0.0.0.0:7878\"\n"
      "http\\-listen = \"0.0.0.0:7879\"\n"
      "auth\\-file = \"/etc/ferry/auth.toml\"\n"
      "tls\\-cert = \"/etc/ferry/cert.pem\"\n"
      "tls\\-key = \"/etc/ferry/key.pem\"\n"
      "cache\\-max\\-bytes = \"20G\"\n"
      "log\\-format = \"json\"\n"
      ".fi\n"
      ".SH FILES\n"
      ".TP\n.I /etc/ferry/ferryd.toml\nthe packaged configuration, generated by "
      "\\fBferryd print\\-config\\fR\n"
      ".SH SEE ALSO\n"
      ".BR ferryd (8),\n.BR ferry (1),\n.BR ferry\\-sim (1)\n";
  return out;
}

Invocation ParseCommandLine(int argc, char** argv) {
  Invocation result;
  CLI::App app{"ferryd: serves files over the ferry protocol and HTTP, with a cache of hot files",
               "ferryd"};
  app.set_version_flag("--version", "ferryd " FERRY_VERSION);
  std::string config_file;
  app.add_option("--config", config_file,
                 "TOML file with any of the options below (flags win; re-read on SIGHUP)");
  const Config defaults;
  std::map<std::string, std::string> texts;
  std::map<std::string, bool> switches;
  for (const Option& option : kOptions) {
    std::string flag = fmt::format("--{}", option.name);
    std::string help = fmt::format("{} [{}]{}", option.help, option.show(defaults),
                                   option.live ? " (reload)" : "");
    if (option.kind == Kind::kSwitch) app.add_flag(flag, switches[option.name], help);
    else app.add_option(flag, texts[option.name], help);
  }
  CLI::App* hash_token =
      app.add_subcommand("hash-token", "read a token on stdin, print its line for --auth-file");
  CLI::App* print_config = app.add_subcommand(
      "print-config", "print the configuration the other options make, as a commented TOML file");
  print_config->fallthrough();
  bool man = false;
  print_config->add_flag("--man", man, "print ferryd.toml(5), the file's manual page, instead");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    result.exit_now = true;
    result.exit_code = app.exit(error) == 0 ? 0 : 2;
    return result;
  }
  if (hash_token->parsed()) {
    result.command = Command::kHashToken;
    return result;
  }
  result.source.file = config_file;
  for (const Option& option : kOptions) {
    if (app.count(fmt::format("--{}", option.name)) == 0) continue;
    result.source.flags.emplace_back(
        option.name, option.kind == Kind::kSwitch ? (switches[option.name] ? "true" : "false")
                                                  : texts[option.name]);
  }
  Result<Config> config = LoadConfig(result.source);
  if (!config.ok()) {
    std::cerr << "ferryd: " << config.status().message() << "\n";
    result.exit_now = true;
    result.exit_code = 2;
    return result;
  }
  result.config = std::move(*config);
  if (print_config->parsed()) {
    std::cout << (man ? RenderConfigManPage() : RenderConfigFile(result.config));
    result.exit_now = true;
  }
  return result;
}

}  // namespace ferry::server
