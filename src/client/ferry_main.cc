// ferry: the command-line client. Exit codes: 0 success, 1 the operation failed (message on
// stderr), 2 usage error.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/load.h"
#include "bench/report.h"
#include "client/client.h"
#include "client/config.h"
#include "client/progress.h"
#include "client/shell.h"
#include "client/transfers.h"
#include "common/units.h"

namespace {

using ferry::ObjectName;
using ferry::Result;
using ferry::Status;
using ferry::client::Client;
using ferry::protocol::FileEntry;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct Options {
  ferry::client::ClientOptions client;  // server, token, TLS
  bool json = false;
  bool quiet = false;
  unsigned parallel = 4;
  bool skip_existing = false;
};

// Where the token came from ("FERRY_TOKEN"), or empty without one; set once by main.
std::string g_token_origin;

// The status for a person: with a 401, what token was sent (never the token itself).
std::string Explain(const Status& status) {
  std::string text = status.ToString();
  if (status.code() != ferry::Code::kUnauthenticated) return text;
  if (g_token_origin.empty()) {
    return text + " (no token given: --token-file FILE, FERRY_TOKEN or token in the config file)";
  }
  return text + " (the token from " + g_token_origin + ")";
}

int Fail(const Status& status) {
  std::cerr << "ferry: " << Explain(status) << "\n";
  return kExitFailed;
}

// A name from the command line; a bad one is a usage error, caught before any connection.
std::optional<ObjectName> NameArg(const std::string& text) {
  Result<ObjectName> name = ObjectName::FromDecoded(text);
  if (!name.ok()) {
    std::cerr << "ferry: '" << text << "': " << name.status().message() << "\n";
    return std::nullopt;
  }
  return *name;
}

Result<std::unique_ptr<Client>> Connect(const Options& options) {
  return Client::Connect(options.client);
}

std::string FormatTime(std::int64_t seconds) {
  std::time_t t = seconds;
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M", &tm);
  return text;
}

nlohmann::json ToJson(const FileEntry& entry) {
  nlohmann::json j = {{"name", entry.name}, {"size", entry.size}, {"mtime", entry.mtime},
                      {"cached", entry.cached}};
  if (entry.checksum) j["checksum"] = entry.checksum->ToString();
  return j;
}

int RunList(const Options& options, const std::string& prefix, bool cached_only) {
  auto client = Connect(options);
  if (!client.ok()) return Fail(client.status());
  auto entries = (*client)->List(prefix);
  if (!entries.ok()) return Fail(entries.status());
  if (cached_only) std::erase_if(*entries, [](const FileEntry& e) { return !e.cached; });
  if (options.json) {
    nlohmann::json array = nlohmann::json::array();
    for (const FileEntry& entry : *entries) array.push_back(ToJson(entry));
    std::cout << array.dump() << "\n";
    return 0;
  }
  for (const FileEntry& entry : *entries) {
    std::cout << fmt::format("{:>12}  {}  {}  {}\n", entry.size, FormatTime(entry.mtime),
                             entry.cached ? 'C' : '-', entry.name);
  }
  return 0;
}

int RunStat(const Options& options, const std::string& text) {
  auto name = NameArg(text);
  if (!name) return kExitUsage;
  auto client = Connect(options);
  if (!client.ok()) return Fail(client.status());
  auto entry = (*client)->Stat(*name);
  if (!entry.ok()) return Fail(entry.status());
  if (options.json) {
    std::cout << ToJson(*entry).dump() << "\n";
  } else {
    std::cout << fmt::format("name:     {}\nsize:     {} ({})\nmodified: {}\nchecksum: {}\ncached:   {}\n",
                             entry->name, entry->size, ferry::FormatBytes(entry->size),
                             FormatTime(entry->mtime), entry->checksum->ToString(),
                             entry->cached ? "yes" : "no");
  }
  return 0;
}

// One JSON line per file (stable fields), for --json transfers.
nlohmann::json ResultJson(const ferry::client::TransferResult& r) {
  nlohmann::json j = {{"name", r.job.name.str()}, {"path", r.job.local.string()},
                      {"size", r.job.size}, {"ok", r.status.ok()}, {"skipped", r.skipped},
                      {"resumed_from", r.info.resumed_from}, {"from_cache", r.info.from_cache}};
  if (r.status.ok()) j["checksum"] = r.checksum.ToString();
  else j["error"] = r.status.ToString();
  return j;
}

// Runs a planned batch with progress, JSON lines or a summary, and the per-file error list.
int RunBatch(const Options& options, std::vector<ferry::client::TransferJob> jobs, bool download,
             std::unique_ptr<Client> connected = nullptr) {
  std::uint64_t total = 0;
  for (const auto& job : jobs) total += job.size;
  bool show_progress = !options.quiet && !options.json && ferry::client::IsTerminal(STDERR_FILENO);
  auto started = std::chrono::steady_clock::now();
  std::vector<ferry::client::TransferResult> results;
  {
    ferry::client::ProgressDisplay progress(show_progress, jobs.size(), total);
    ferry::client::BatchOptions batch{.client = options.client,
                                      .parallel = options.parallel,
                                      .skip_existing = options.skip_existing,
                                      .progress = &progress};
    if (options.json) {
      batch.on_done = [](const ferry::client::TransferResult& r) {
        std::cout << ResultJson(r).dump() << "\n" << std::flush;
      };
    }
    results = download ? ferry::client::RunDownloads(std::move(jobs), batch, std::move(connected))
                       : ferry::client::RunUploads(std::move(jobs), batch, std::move(connected));
  }
  std::uint64_t bytes = 0, from_cache = 0, resumed = 0, failed = 0, skipped = 0;
  for (const auto& r : results) {
    if (!r.status.ok()) {
      ++failed;
      std::cerr << "ferry: " << r.job.name.str() << ": " << Explain(r.status) << "\n";
      continue;
    }
    if (r.skipped) ++skipped;
    else bytes += r.job.size - r.info.resumed_from;
    from_cache += r.info.from_cache ? 1 : 0;
    resumed += r.info.resumed_from > 0 ? 1 : 0;
  }
  if (!options.quiet && !options.json) {
    std::string summary = ferry::client::RenderSummary(
        results.size() - failed - skipped, bytes, std::chrono::steady_clock::now() - started,
        from_cache, resumed, failed);
    if (skipped > 0) summary += fmt::format(", {} already there", skipped);
    std::cerr << summary << "\n";
  }
  return failed == 0 ? 0 : kExitFailed;
}

int RunGet(const Options& options, const std::string& what, const std::string& output, bool recursive) {
  if (options.json && output == "-") {
    std::cerr << "ferry: --json and -o - would mix JSON into the file on stdout\n";
    return kExitUsage;
  }
  if (!recursive && !ferry::client::HasGlob(what) && !NameArg(what)) return kExitUsage;
  auto client = Connect(options);
  if (!client.ok()) return Fail(client.status());
  auto jobs = ferry::client::PlanDownloads(**client, what, recursive, output);
  if (!jobs.ok()) return Fail(jobs.status());
  if (jobs->size() == 1 && jobs->front().size == 0) {  // one named file: its size for the bar
    if (auto entry = (*client)->Stat(jobs->front().name); entry.ok()) jobs->front().size = entry->size;
  }
  return RunBatch(options, std::move(*jobs), /*download=*/true, std::move(*client));
}

int RunPut(const Options& options, const std::string& path, std::string text, bool recursive) {
  std::vector<ferry::client::TransferJob> jobs;
  if (recursive) {
    auto planned = ferry::client::PlanUploadTree(path, text);
    if (!planned.ok()) {
      std::cerr << "ferry: " << planned.status().message() << "\n";
      return kExitUsage;
    }
    jobs = std::move(*planned);
  } else {
    if (text.empty()) text = std::filesystem::path(path).filename().string();
    auto name = NameArg(text);
    if (!name) return kExitUsage;
    std::error_code error;
    auto size = std::filesystem::file_size(path, error);
    jobs.push_back({*name, path, error ? 0 : size});
  }
  return RunBatch(options, std::move(jobs), /*download=*/false);
}

int RunStats(const Options& options) {
  auto client = Connect(options);
  if (!client.ok()) return Fail(client.status());
  auto values = (*client)->Stats();
  if (!values.ok()) return Fail(values.status());
  if (options.json) {
    // Numbers as numbers: every STATS value is a decimal number.
    nlohmann::json object = nlohmann::json::object();
    for (const auto& v : *values) {
      nlohmann::json number = nlohmann::json::parse(v.value, nullptr, /*allow_exceptions=*/false);
      object[v.name] = number.is_number() ? number : nlohmann::json(v.value);
    }
    std::cout << object.dump() << "\n";
  } else {
    for (const auto& v : *values) std::cout << fmt::format("{:<18} {}\n", v.name, v.value);
  }
  return 0;
}

int RunRemove(const Options& options, const std::string& text) {
  auto name = NameArg(text);
  if (!name) return kExitUsage;
  auto client = Connect(options);
  if (!client.ok()) return Fail(client.status());
  if (Status s = (*client)->Remove(*name); !s.ok()) return Fail(s);
  if (options.json) std::cout << nlohmann::json{{"name", name->str()}, {"removed", true}}.dump() << "\n";
  return 0;
}

}  // namespace

// --config, else FERRY_CONFIG, else $XDG_CONFIG_HOME/ferry/config.toml (~/.config/...). A file
// named explicitly must exist; the default one may not.
std::optional<std::filesystem::path> ConfigPath(const std::string& flag, bool& required) {
  required = true;
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("FERRY_CONFIG"); env != nullptr && *env != '\0') return env;
  required = false;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "ferry/config.toml";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".config/ferry/config.toml";
  }
  return std::nullopt;
}

// The first line of a token file. Warns when others may read it (ssh refuses such keys; a
// token is worth the same care).
Result<std::string> ReadTokenFile(const std::filesystem::path& path, const std::string& origin) {
  std::ifstream in(path);
  if (!in) return ferry::PosixError(errno, origin);
  std::string text(8192, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    std::cerr << fmt::format("ferry: warning: {} can be read by other users (chmod 600 {})\n",
                             path.string(), path.string());
  }
  return ferry::client::TokenFromFileText(text, origin);
}

// Reads the config file and picks the server and how to reach it: see ChooseConnection for
// the precedence of flags, environment and file.
ferry::Status LoadSettings(const std::string& config_flag, ferry::client::ConnectionSources sources,
                           ferry::client::ClientOptions& client, std::string& token_origin) {
  bool required = false;
  std::optional<std::filesystem::path> path = ConfigPath(config_flag, required);
  ferry::client::ClientConfig config;
  if (path && (required || std::filesystem::exists(*path))) {
    std::ifstream in(*path);
    if (!in) return Status::BadRequest(fmt::format("cannot read {}", path->string()));
    std::string text{std::istreambuf_iterator<char>(in), {}};
    const char* home = std::getenv("HOME");
    auto parsed = ferry::client::ParseClientConfig(text, std::filesystem::absolute(*path).parent_path(),
                                                   home != nullptr ? home : "");
    if (!parsed.ok()) return Status::BadRequest(fmt::format("{}: {}", path->string(), parsed.status().message()));
    config = std::move(*parsed);
  }
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return value;
  };
  sources.server_env = env("FERRY_SERVER");
  sources.token_env = env("FERRY_TOKEN");
  auto choice = ferry::client::ChooseConnection(sources, config);
  if (!choice.ok()) return choice.status();
  client.server = choice->address;
  client.tls = choice->tls;
  client.ca_file = choice->ca;
  token_origin = choice->token_origin;
  client.token = choice->token.value;
  if (!choice->token.file.empty()) {
    auto token = ReadTokenFile(choice->token.file, choice->token_origin);
    if (!token.ok()) return token.status();
    client.token = *token;
  }
  return Status::Ok();
}

// What `ferry bench` takes as text, turned into LoadOptions once the command line is parsed.
struct BenchFlags {
  ferry::bench::LoadOptions load;
  std::string duration = "10s", mix = "get", size = "4K", read_size = "256K", timeout = "600s";
  bool populate = false;
};

int RunBench(const Options& options, BenchFlags& flags) {
  using ferry::bench::LoadOptions;
  LoadOptions& load = flags.load;
  if (options.client.tls) {
    std::cerr << "ferry bench: speaks plain TCP only; run it against a listener without TLS\n";
    return kExitUsage;
  }
  load.server = options.client.server;
  load.token = options.client.token;
  auto duration = ferry::ParseDuration(flags.duration);
  auto mix = ferry::bench::ParseMix(flags.mix);
  auto size = ferry::ParseByteSize(flags.size);
  auto read_size = ferry::ParseByteSize(flags.read_size);
  auto timeout = ferry::ParseDuration(flags.timeout);
  for (const Status& s : {duration.status(), mix.status(), size.status(), read_size.status(),
                          timeout.status()}) {
    if (!s.ok()) {
      std::cerr << "ferry bench: " << s.message() << "\n";
      return kExitUsage;
    }
  }
  load.duration = *duration;
  load.mix = *mix;
  load.size = *size;
  load.read_size = static_cast<std::size_t>(*read_size);
  load.timeout = *timeout;
  if (Status valid = ferry::bench::CheckLoadOptions(load); !valid.ok()) {
    std::cerr << "ferry bench: " << valid.message() << "\n";
    return kExitUsage;
  }
  if (flags.populate) {
    // Every key once, in order, so the GETs that follow find their files.
    LoadOptions writes = load;
    writes.mix = {.get = 0, .put = 1};
    writes.sequential = true;
    writes.requests = load.names.empty() ? load.keys : load.names.size();
    writes.connections = std::min(load.connections, 16u);
    writes.threads = 1;
    writes.rate = 0;
    writes.pipeline = 1;
    writes.verify_dir.clear();
    auto written = ferry::bench::RunLoad(writes);
    if (!written.ok()) return Fail(written.status());
    if (written->errors > 0) {
      std::cerr << ferry::bench::FormatReport(writes, *written) << "ferry bench: --populate failed\n";
      return kExitFailed;
    }
    if (!options.json) std::cerr << fmt::format("populated {} key(s) of {} bytes\n", writes.requests, load.size);
  }
  auto report = ferry::bench::RunLoad(load);
  if (!report.ok()) {
    std::cerr << "ferry bench: " << report.status().ToString() << "\n";
    return report.status().code() == ferry::Code::kBadRequest ? kExitUsage : kExitFailed;
  }
  if (options.json) {
    std::cout << ferry::bench::ReportJson(load, *report).dump() << "\n";
  } else {
    std::cout << ferry::bench::FormatReport(load, *report);
  }
  return report->errors == 0 ? 0 : kExitFailed;
}

int main(int argc, char** argv) {
  CLI::App app{"ferry: list, download and upload files on a ferryd server", "ferry"};
  app.set_version_flag("--version", "ferry " FERRY_VERSION);
  app.footer(
      "Names are paths relative to the server's root, with '/' between folders.\n"
      "Exit codes: 0 success, 1 the operation failed (message on stderr), 2 usage error.\n"
      "Environment: FERRY_SERVER (HOST:PORT or a server's name), FERRY_TOKEN (the token, if no\n"
      "--token-file), FERRY_CONFIG (the config file).\n"
      "Config file: ~/.config/ferry/config.toml, e.g.\n"
      "  server = \"work\"\n  [servers.work]\n  address = \"files.example.com:7878\"\n"
      "  tls = true\n  token-file = \"~/.config/ferry/work.token\"\n"
      "Details: docs/client.md.");
  Options options;
  std::string server_flag, config_flag;
  app.add_option("-s,--server", server_flag,
                 "HOST:PORT or a name from the config file (default: $FERRY_SERVER, the config "
                 "file's server, 127.0.0.1:7878)");
  app.add_option("--config", config_flag, "config file (default: ~/.config/ferry/config.toml)");
  ferry::client::ConnectionSources sources;
  std::string token_file_flag, ca_flag;
  app.add_option("--token-file", token_file_flag,
                 "send the token on FILE's first line (default: $FERRY_TOKEN, the config file's). "
                 "There is no --token flag on purpose: any user can read a command line with ps")
      ->option_text("FILE");
  app.add_flag("--tls", sources.tls_flag,
               "speak TLS 1.2+ to the server, its certificate checked against the system's CAs");
  app.add_option("--ca", ca_flag, "trust the CA certificate(s) in FILE (PEM) instead; implies --tls")
      ->option_text("FILE");
  app.add_flag("--json", options.json, "print JSON for scripts (transfers: one line per file)");
  app.add_flag("-q,--quiet", options.quiet, "no progress bar, no summary");
  app.require_subcommand(0, 1);  // none: the shell on a terminal

  std::string prefix, name, path, output;
  auto* ls = app.add_subcommand("ls", "list files (optionally only names starting with PREFIX)");
  ls->add_option("prefix", prefix, "name prefix, e.g. logs/");
  bool cached_only = false;
  ls->add_flag("--cached", cached_only, "only files in the server's cache right now");
  auto* stat = app.add_subcommand("stat", "show a file's size, time, checksum and cache state");
  stat->add_option("name", name, "file name")->required();
  bool recursive = false;
  auto* get = app.add_subcommand("get", "download files (verified by checksum, resumed if interrupted)");
  get->add_option("name", name, "file name, glob ('logs/*.gz'), or with -r a folder")->required();
  get->add_option("dest", output, "output file, or folder for many (default: here)");
  get->add_option("-o,--output", output, "same as DEST ('-' for stdout)");
  auto* put = app.add_subcommand("put", "upload files (stored atomically, verified, resumed if interrupted)");
  put->add_option("path", path, "local file, or with -r a folder")->required();
  put->add_option("name", name, "name on the server (default: the file's base name); with -r a prefix");
  for (CLI::App* transfer : {get, put}) {
    transfer->add_flag("-r,--recursive", recursive, "a whole folder, into DEST/FOLDER/... (like cp -r)");
    transfer->add_option("-P,--parallel", options.parallel, "transfers at once, each on its own connection")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    transfer->add_flag("--skip-existing", options.skip_existing,
                       "skip files whose size and checksum already match (rsync's quick check)");
  }
  auto* rm = app.add_subcommand("rm", "delete a file");
  rm->add_option("name", name, "file name")->required();
  auto* stats = app.add_subcommand("stats", "the server's cache counters: hits, misses, evictions...");
  auto* shell = app.add_subcommand("shell", "an interactive prompt: ls, cd, get, put, rm... (also: ferry "
                                            "with no command on a terminal)");

  BenchFlags bench_flags;
  auto* bench = app.add_subcommand(
      "bench", "load generator: GET/PUT/LIST requests/s, MB/s and latency percentiles, replies verified "
               "(docs/performance.md)");
  {
    ferry::bench::LoadOptions& load = bench_flags.load;
    bench->add_option("-c,--connections", load.connections, "connections")->capture_default_str();
    bench->add_option("-t,--threads", load.threads, "event-loop threads")->capture_default_str();
    bench->add_option("-d,--duration", bench_flags.duration, "how long (10s, 2m), unless --requests")
        ->capture_default_str();
    bench->add_option("-n,--requests", load.requests, "stop after this many requests in all");
    bench->add_option("--mix", bench_flags.mix, "operations and their weights: get=90,put=9,list=1")
        ->capture_default_str();
    bench->add_option("--size", bench_flags.size, "bytes of each PUT (and --populate): 4K, 64K, 1G")
        ->capture_default_str();
    bench->add_option("--keys", load.keys, "names PREFIX000000 .. PREFIX<keys-1>")->capture_default_str();
    bench->add_option("--prefix", load.prefix, "prefix of the keys' names (also LIST's)")->capture_default_str();
    bench->add_option("--name", load.names, "use these names instead of keys (repeatable)");
    bench->add_option("--zipf", load.zipf, "key popularity: Zipf with this alpha (0: uniform)")
        ->capture_default_str();
    bench->add_option("--pipeline", load.pipeline, "requests in flight per connection")->capture_default_str();
    bench->add_option("--rate", load.rate,
                      "pace to this many requests/s in all; latency counts from when each was due");
    bench->add_option("--verify-every", load.verify_every, "check one reply in N (1: all)")
        ->capture_default_str();
    bench->add_option("--verify-dir", load.verify_dir, "the expected files (the server's data folder, a copy)")
        ->option_text("DIR");
    bench->add_option("--read-size", bench_flags.read_size, "bytes per read from the socket")
        ->capture_default_str();
    bench->add_flag("--http", load.http, "speak HTTP/1.1 (keep-alive GETs of --http-path NAME), to compare servers");
    bench->add_option("--http-path", load.http_path, "URL path before the name")->capture_default_str();
    bench->add_flag("--populate", bench_flags.populate, "first PUT every key once (--size bytes)");
    bench->add_flag("--sequential", load.sequential, "keys in order (0, 1, 2...), not drawn at random");
    bench->add_option("--seed", load.seed, "random seed (same seed, same requests)")->capture_default_str();
    bench->add_option("--timeout", bench_flags.timeout,
                      "with --requests, cut the run after this long (a --duration run: 30 s after it)")
        ->capture_default_str();
    bench->fallthrough();  // ferry --json bench and ferry bench --json alike
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : kExitUsage;
  }
  if (!server_flag.empty()) sources.server_flag = server_flag;
  if (!token_file_flag.empty()) sources.token_file_flag = token_file_flag;
  if (!ca_flag.empty()) sources.ca_flag = ca_flag;
  if (Status s = LoadSettings(config_flag, sources, options.client, g_token_origin); !s.ok()) {
    std::cerr << "ferry: " << s.message() << "\n";
    return kExitUsage;
  }
  if (*ls) return RunList(options, prefix, cached_only);
  if (*stat) return RunStat(options, name);
  if (*get) return RunGet(options, name, output, recursive);
  if (*put) return RunPut(options, path, name, recursive);
  if (*rm) return RunRemove(options, name);
  if (*stats) return RunStats(options);
  if (*bench) return RunBench(options, bench_flags);
  if (*shell || (app.get_subcommands().empty() && ::isatty(STDIN_FILENO) == 1)) {
    return ferry::client::RunShell(options.client);
  }
  std::cerr << app.help();
  return kExitUsage;
}
