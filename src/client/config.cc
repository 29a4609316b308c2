#include "client/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

namespace ferry::client {

Result<ClientConfig> ParseClientConfig(std::string_view toml_text) {
  toml::table table;
  try {
    table = toml::parse(toml_text);
  } catch (const toml::parse_error& error) {
    return Status::BadRequest(fmt::format("line {}: {}", error.source().begin.line,
                                          error.description()));
  }
  ClientConfig config;
  for (auto&& [key, value] : table) {
    if (key == "server") {
      std::optional<std::string> server = value.value<std::string>();
      if (!server) return Status::BadRequest("'server' must be a string");
      config.server = *server;
    } else if (key == "servers" && value.is_table()) {
      for (auto&& [name, entry] : *value.as_table()) {
        const toml::table* fields = entry.as_table();
        if (fields == nullptr) return Status::BadRequest(fmt::format("servers.{} must be a table", name.str()));
        for (auto&& [field, field_value] : *fields) {
          if (field != "address") {
            return Status::BadRequest(fmt::format("servers.{}: unknown key '{}'", name.str(), field.str()));
          }
        }
        std::optional<std::string> address = (*fields)["address"].value<std::string>();
        if (!address || address->find(':') == std::string::npos) {
          return Status::BadRequest(fmt::format("servers.{} needs address = \"HOST:PORT\"", name.str()));
        }
        config.servers[std::string(name.str())] = *address;
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
  if (found != config.servers.end()) return found->second;
  std::string known;
  for (const auto& [name, address] : config.servers) known += (known.empty() ? "" : ", ") + name;
  return Status::BadRequest(fmt::format("'{}' is neither HOST:PORT nor a server of the config file{}",
                                        chosen, known.empty() ? "" : " (" + known + ")"));
}

}  // namespace ferry::client
