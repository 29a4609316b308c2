// config_fuzz: ferryd's TOML config (server/config.h) and the client's (client/config.h). The
// input is one TOML text, given to both.
//
// Invariants:
//  - ApplyConfigText never throws; a refusal is a 400 that names the file; keys given on the
//    command line are skipped (all of them given: the defaults stay); applying twice is
//    applying once; an accepted config written back as TOML (every option as the text a flag
//    would carry) reads back to the same Config; ValidateConfig then never throws and refuses
//    with a 400 what cannot work (no port, TLS half given, a zero header timeout...);
//  - ParseClientConfig (with a base folder and a home): every server has a HOST:PORT address,
//    `ca` only with TLS, paths made absolute, tokens the server's AUTH line carries unchanged;
//    written back it reads back the same; ResolveServer gives each named server's address and
//    ChooseConnection agrees with it; a token file's token is its first line's, trimmed.
#include <sstream>
#include <string>
#include <vector>

#include "client/config.h"
#include "common/units.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/toml_text.h"
#include "protocol/request.h"
#include "server/config.h"

namespace ferry {
namespace {

using server::Config;

// A byte size as ParseByteSize reads it back: the largest unit that divides it, so any size
// it produced (up to 2^64 - 1) is written with a number that fits in int64.
std::string SizeText(std::uint64_t bytes) {
  static constexpr std::pair<std::uint64_t, const char*> kUnits[] = {
      {kGiB * 1024, "T"}, {kGiB, "G"}, {kMiB, "M"}, {kKiB, "K"}, {1, ""}};
  for (const auto& [unit, suffix] : kUnits) {
    if (bytes != 0 && bytes % unit == 0) return std::to_string(bytes / unit) + suffix;
  }
  return "0";
}

// The config as a TOML file: every option as the text its flag would carry.
std::string ToToml(const Config& c) {
  auto text = [](std::string_view value) { return fuzz::TomlString(value); };
  auto seconds = [&](std::chrono::seconds s) { return text(std::to_string(s.count()) + "s"); };
  auto size = [&](std::uint64_t bytes) { return text(SizeText(bytes)); };
  auto flag = [](bool on) { return std::string(on ? "true" : "false"); };
  const std::pair<const char*, std::string> options[] = {
      {"listen", text(c.listen)},
      {"http-listen", text(c.http_listen)},
      {"data", text(c.data.string())},
      {"cache", text(c.cache.string())},
      {"cache-max-bytes", size(c.cache_max_bytes)},
      {"cache-max-object", size(c.cache_max_object)},
      {"cache-policy", text(c.cache_policy)},
      {"max-upload", size(c.max_upload)},
      {"partial-ttl", seconds(c.partial_ttl)},
      {"trace-out", text(c.trace_out.string())},
      {"trace-max-bytes", size(c.trace_max_bytes)},
      {"threads", std::to_string(c.threads)},
      {"log-level", text(c.log_level)},
      {"drain-timeout-ms", std::to_string(c.drain_timeout.count())},
      {"ready-file", text(c.ready_file.string())},
      {"auth-file", text(c.auth_file.string())},
      {"allow-anonymous", flag(c.allow_anonymous)},
      {"tls-cert", text(c.tls_cert.string())},
      {"tls-key", text(c.tls_key.string())},
      {"read-only", flag(c.read_only)},
      {"max-connections", std::to_string(c.max_connections)},
      {"max-connections-per-ip", std::to_string(c.max_connections_per_ip)},
      {"idle-timeout", seconds(c.idle_timeout)},
      {"header-timeout", seconds(c.header_timeout)},
      {"min-rate", size(c.min_rate)},
      {"rate-window", seconds(c.rate_window)},
      {"min-free", size(c.min_free)},
  };
  std::string out;
  for (const auto& [key, value] : options) out += std::string(key) + " = " + value + "\n";
  return out;
}

std::vector<std::string> EveryKey() {
  std::vector<std::string> keys;
  std::istringstream lines(ToToml(Config{}));
  for (std::string line; std::getline(lines, line);) keys.push_back(line.substr(0, line.find(' ')));
  return keys;
}

bool Same(const Config& a, const Config& b) {
  return a.listen == b.listen && a.http_listen == b.http_listen && a.data == b.data &&
         a.cache == b.cache && a.cache_max_bytes == b.cache_max_bytes &&
         a.cache_max_object == b.cache_max_object && a.cache_policy == b.cache_policy &&
         a.max_upload == b.max_upload && a.partial_ttl == b.partial_ttl &&
         a.trace_out == b.trace_out && a.trace_max_bytes == b.trace_max_bytes &&
         a.threads == b.threads && a.log_level == b.log_level && a.ready_file == b.ready_file &&
         a.drain_timeout == b.drain_timeout && a.auth_file == b.auth_file &&
         a.allow_anonymous == b.allow_anonymous && a.tls_cert == b.tls_cert &&
         a.tls_key == b.tls_key && a.read_only == b.read_only &&
         a.max_connections == b.max_connections &&
         a.max_connections_per_ip == b.max_connections_per_ip && a.idle_timeout == b.idle_timeout &&
         a.header_timeout == b.header_timeout && a.min_rate == b.min_rate &&
         a.rate_window == b.rate_window && a.min_free == b.min_free;
}

void CheckServerConfig(std::string_view text) {
  Config config;
  Status applied = server::ApplyConfigText(text, "fuzz.toml", config);
  if (!applied.ok()) {
    FUZZ_CHECK(applied.code() == Code::kBadRequest);
    FUZZ_CHECK(applied.message().starts_with("fuzz.toml"));
    return;
  }
  Config twice = config;
  FUZZ_CHECK(server::ApplyConfigText(text, "fuzz.toml", twice).ok() && Same(twice, config));

  Config skipped;
  FUZZ_CHECK(server::ApplyConfigText(text, "fuzz.toml", skipped, EveryKey()).ok());
  FUZZ_CHECK(Same(skipped, Config{}));

  Config reread;
  Status again = server::ApplyConfigText(ToToml(config), "written.toml", reread);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(Same(reread, config));

  Status valid = server::ValidateConfig(config);
  if (!valid.ok()) {
    FUZZ_CHECK(valid.code() == Code::kBadRequest && !valid.message().empty());
    return;
  }
  FUZZ_CHECK(config.listen.find(':') != std::string::npos);
  FUZZ_CHECK(config.http_listen == "off" || config.http_listen.find(':') != std::string::npos);
  FUZZ_CHECK(config.tls_cert.empty() == config.tls_key.empty());
  FUZZ_CHECK(config.header_timeout.count() > 0);
}

// A token setting as the file writes it: `token = "..."` or `token-file = "..."`, or nothing.
std::string TokenLines(const client::TokenSetting& token) {
  if (!token.value.empty()) return "token = " + fuzz::TomlString(token.value) + "\n";
  if (!token.file.empty()) return "token-file = " + fuzz::TomlString(token.file.string()) + "\n";
  return "";
}

bool Same(const client::TokenSetting& a, const client::TokenSetting& b) {
  return a.value == b.value && a.file == b.file;
}

// A token the client accepts is one the server's AUTH line carries unchanged.
void CheckToken(const client::TokenSetting& token) {
  FUZZ_CHECK(token.value.empty() || token.file.empty());
  if (!token.file.empty()) FUZZ_CHECK(token.file.is_absolute());
  if (token.value.empty()) return;
  FUZZ_CHECK(client::CheckToken(token.value).ok());
  protocol::ParsedLine auth = protocol::ParseRequest("AUTH " + token.value);
  FUZZ_CHECK(auth.request.ok() && auth.request->command == protocol::Command::kAuth &&
             auth.request->token == token.value);
}

void CheckClientConfig(std::string_view text) {
  const std::filesystem::path base = "/base", home = "/home/fuzz";
  Result<client::ClientConfig> config = client::ParseClientConfig(text, base, home);
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == Code::kBadRequest);
    return;
  }
  CheckToken(config->token);
  std::string written;
  if (!config->server.empty()) written += "server = " + fuzz::TomlString(config->server) + "\n";
  written += TokenLines(config->token);
  for (const auto& [name, entry] : config->servers) {
    FUZZ_CHECK(entry.address.find(':') != std::string::npos);
    FUZZ_CHECK(entry.ca.empty() || (entry.tls && entry.ca.is_absolute()));
    CheckToken(entry.token);
    written += "[servers." + fuzz::TomlString(name) +
               "]\naddress = " + fuzz::TomlString(entry.address) +
               "\ntls = " + (entry.tls ? "true" : "false") + "\n";
    if (!entry.ca.empty()) written += "ca = " + fuzz::TomlString(entry.ca.string()) + "\n";
    written += TokenLines(entry.token);
    Result<std::string> resolved = client::ResolveServer(name, std::nullopt, *config);
    if (name.find(':') == std::string::npos)
      FUZZ_CHECK(resolved.ok() && *resolved == entry.address);
  }
  Result<client::ClientConfig> reread = client::ParseClientConfig(written, base, home);
  FUZZ_CHECK(reread.ok());
  FUZZ_CHECK(reread->server == config->server && Same(reread->token, config->token));
  FUZZ_CHECK(reread->servers.size() == config->servers.size());
  for (const auto& [name, entry] : config->servers) {
    const client::ServerEntry& again = reread->servers.at(name);
    FUZZ_CHECK(again.address == entry.address && again.tls == entry.tls && again.ca == entry.ca &&
               Same(again.token, entry.token));
  }

  // The connection: the server ResolveServer picks, TLS when the entry or a flag asks for it.
  Result<std::string> chosen = client::ResolveServer(std::nullopt, std::nullopt, *config);
  Result<client::ConnectionChoice> choice = client::ChooseConnection({}, *config);
  FUZZ_CHECK(choice.ok() == chosen.ok());
  if (!choice.ok()) return;
  FUZZ_CHECK(chosen->find(':') != std::string::npos && choice->address == *chosen);
  // An entry's TLS settings and token are for its own address only.
  auto named = config->servers.find(config->server);
  bool by_entry = named != config->servers.end() && named->second.address == *chosen;
  if (by_entry) FUZZ_CHECK(choice->tls == named->second.tls && choice->ca == named->second.ca);
  if (choice->token_origin.starts_with("the config file's servers.")) FUZZ_CHECK(by_entry);
  Result<client::ConnectionChoice> forced =
      client::ChooseConnection({.token_env = config->server, .tls_flag = true}, *config);
  FUZZ_CHECK(forced.ok() == client::CheckToken(config->server).ok());
  if (forced.ok()) FUZZ_CHECK(forced->tls && forced->token.value == config->server);
}

// A token file: its first line, trimmed, if the client would send it.
void CheckTokenFile(std::string_view text) {
  Result<std::string> token = client::TokenFromFileText(text, "fuzz.token");
  if (!token.ok()) {
    FUZZ_CHECK(token.status().message().starts_with("fuzz.token"));
    return;
  }
  FUZZ_CHECK(client::CheckToken(*token).ok());
  FUZZ_CHECK(text.substr(0, text.find('\n')).find(*token) != std::string_view::npos);
}

}  // namespace
}  // namespace ferry

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ferry::CheckServerConfig(text);
  ferry::CheckClientConfig(text);
  ferry::CheckTokenFile(text);
  return 0;
}
