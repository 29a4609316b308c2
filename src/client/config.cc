#include "client/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

namespace ferry::client {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxTokenBytes = 4096;

// A path from the file: "~/x" under `home`, a relative one under `base_dir`.
Result<fs::path> FilePath(const toml::node& node, std::string_view where, const fs::path& base_dir,
                          const fs::path& home) {
  std::optional<std::string> text = node.value<std::string>();
  if (!text || text->empty()) return Status::BadRequest(fmt::format("'{}' must be a path", where));
  if (text->starts_with("~/")) {
    if (home.empty()) return Status::BadRequest(fmt::format("'{}': ~ without a home folder", where));
    return home / text->substr(2);
  }
  fs::path path(*text);
  return path.is_relative() && !base_dir.empty() ? base_dir / path : path;
}

// Reads `token` or `token-file` (`prefix` is "" or "servers.NAME.") into `token`; false if
// `key` is neither.
Result<bool> ReadTokenKey(std::string_view key, const toml::node& node, std::string_view prefix,
                          TokenSetting& token, const fs::path& base_dir, const fs::path& home) {
  std::string where = fmt::format("{}{}", prefix, key);
  if (key == "token") {
    std::optional<std::string> value = node.value<std::string>();
    if (!value) return Status::BadRequest(fmt::format("'{}' must be a string", where));
    if (Status s = CheckToken(*value); !s.ok()) return Status::BadRequest(fmt::format("'{}': {}", where, s.message()));
    token.value = *value;
  } else if (key == "token-file") {
    Result<fs::path> path = FilePath(node, where, base_dir, home);
    if (!path.ok()) return path.status();
    token.file = *path;
  } else {
    return false;
  }
  if (!token.value.empty() && !token.file.empty()) {
    return Status::BadRequest(fmt::format("{}token and {}token-file: give one", prefix, prefix));
  }
  return true;
}

Result<ServerEntry> ParseServerEntry(std::string_view name, const toml::table& fields,
                                     const fs::path& base_dir, const fs::path& home) {
  ServerEntry entry;
  std::string prefix = fmt::format("servers.{}.", name);
  std::optional<bool> tls;
  for (auto&& [field, value] : fields) {
    Result<bool> was_token = ReadTokenKey(field.str(), value, prefix, entry.token, base_dir, home);
    if (!was_token.ok()) return was_token.status();
    if (*was_token) continue;
    if (field == "address") {
      std::optional<std::string> address = value.value<std::string>();
      if (!address || address->find(':') == std::string::npos) {
        return Status::BadRequest(fmt::format("servers.{} needs address = \"HOST:PORT\"", name));
      }
      entry.address = *address;
    } else if (field == "tls") {
      tls = value.value<bool>();
      if (!tls) return Status::BadRequest(fmt::format("'{}tls' must be true or false", prefix));
    } else if (field == "ca") {
      Result<fs::path> path = FilePath(value, prefix + "ca", base_dir, home);
      if (!path.ok()) return path.status();
      entry.ca = *path;
    } else {
      return Status::BadRequest(fmt::format("servers.{}: unknown key '{}'", name, field.str()));
    }
  }
  if (entry.address.empty()) {
    return Status::BadRequest(fmt::format("servers.{} needs address = \"HOST:PORT\"", name));
  }
  if (tls == false && !entry.ca.empty()) {
    return Status::BadRequest(fmt::format("servers.{}: 'ca' is for TLS, but tls = false", name));
  }
  entry.tls = tls.value_or(!entry.ca.empty());
  return entry;
}

}  // namespace

Status CheckToken(std::string_view token) {
  if (token.empty()) return Status::BadRequest("the token is empty");
  if (token.size() > kMaxTokenBytes) {
    return Status::BadRequest(fmt::format("the token is longer than {} bytes", kMaxTokenBytes));
  }
  for (char c : token) {
    if (c <= ' ' || c > '~') return Status::BadRequest("a token is printable ASCII without spaces");
  }
  return Status::Ok();
}

Result<std::string> TokenFromFileText(std::string_view text, std::string_view origin) {
  std::string_view line = text.substr(0, text.find('\n'));
  constexpr std::string_view kBlank = " \t\r";
  std::size_t begin = line.find_first_not_of(kBlank);
  line = begin == std::string_view::npos ? std::string_view() : line.substr(begin);
  line = line.substr(0, line.find_last_not_of(kBlank) + 1);
  if (line.empty()) return Status::BadRequest(fmt::format("{}: the first line holds no token", origin));
  if (Status s = CheckToken(line); !s.ok()) return Status::BadRequest(fmt::format("{}: {}", origin, s.message()));
  return std::string(line);
}

Result<ClientConfig> ParseClientConfig(std::string_view toml_text, const fs::path& base_dir,
                                       const fs::path& home) {
  toml::table table;
  try {
    table = toml::parse(toml_text);
  } catch (const toml::parse_error& error) {
    return Status::BadRequest(fmt::format("line {}: {}", error.source().begin.line,
                                          error.description()));
  }
  ClientConfig config;
  for (auto&& [key, value] : table) {
    Result<bool> was_token = ReadTokenKey(key.str(), value, "", config.token, base_dir, home);
    if (!was_token.ok()) return was_token.status();
    if (*was_token) continue;
    if (key == "server") {
      std::optional<std::string> server = value.value<std::string>();
      if (!server) return Status::BadRequest("'server' must be a string");
      config.server = *server;
    } else if (key == "servers" && value.is_table()) {
      for (auto&& [name, entry] : *value.as_table()) {
        const toml::table* fields = entry.as_table();
        if (fields == nullptr) return Status::BadRequest(fmt::format("servers.{} must be a table", name.str()));
        Result<ServerEntry> parsed = ParseServerEntry(name.str(), *fields, base_dir, home);
        if (!parsed.ok()) return parsed.status();
        config.servers[std::string(name.str())] = std::move(*parsed);
      }
    } else {
      return Status::BadRequest(fmt::format("unknown key '{}'", key.str()));
    }
  }
  return config;
}

Result<std::string> ResolveServer(std::optional<std::string> flag, std::optional<std::string> env,
                                  const ClientConfig& config) {
  std::string chosen = flag.value_or(env.value_or(config.server.empty() ? "127.0.0.1:7878" : config.server));
  if (chosen.find(':') != std::string::npos) return chosen;
  auto found = config.servers.find(chosen);
  if (found != config.servers.end()) return found->second.address;
  std::string known;
  for (const auto& [name, entry] : config.servers) known += (known.empty() ? "" : ", ") + name;
  return Status::BadRequest(fmt::format("'{}' is neither HOST:PORT nor a server of the config file{}",
                                        chosen, known.empty() ? "" : " (" + known + ")"));
}

Result<ConnectionChoice> ChooseConnection(const ConnectionSources& sources,
                                          const ClientConfig& config) {
  Result<std::string> address = ResolveServer(sources.server_flag, sources.server_env, config);
  if (!address.ok()) return address.status();
  // The entry ResolveServer took the address from, if any. A HOST:PORT, or no server at all
  // (the default address), is no entry's, even one named "h:1" or "": its token and TLS
  // settings are for its own address only.
  std::string chosen = sources.server_flag.value_or(sources.server_env.value_or(config.server));
  const ServerEntry* entry = nullptr;
  if (!chosen.empty() && chosen.find(':') == std::string::npos) {
    auto named = config.servers.find(chosen);
    if (named != config.servers.end()) entry = &named->second;
  }

  ConnectionChoice choice{.address = *address};
  if (sources.token_file_flag) {
    choice.token.file = *sources.token_file_flag;
    choice.token_origin = "--token-file";
  } else if (sources.token_env) {
    if (Status s = CheckToken(*sources.token_env); !s.ok()) {
      return Status::BadRequest(fmt::format("FERRY_TOKEN: {}", s.message()));
    }
    choice.token.value = *sources.token_env;
    choice.token_origin = "FERRY_TOKEN";
  } else if (entry != nullptr && !entry->token.empty()) {
    choice.token = entry->token;
    choice.token_origin = fmt::format("the config file's servers.{}", chosen);
  } else if (!config.token.empty()) {
    choice.token = config.token;
    choice.token_origin = "the config file";
  }
  if (!choice.token.file.empty()) choice.token_origin += " (" + choice.token.file.string() + ")";

  choice.tls = sources.tls_flag || sources.ca_flag || (entry != nullptr && entry->tls);
  if (sources.ca_flag) choice.ca = *sources.ca_flag;
  else if (entry != nullptr) choice.ca = entry->ca;
  return choice;
}

}  // namespace ferry::client
