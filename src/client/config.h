// ferry's configuration file and how the server to talk to is chosen. Pure: the CLI reads the
// file and the environment, these decide.
//
// $XDG_CONFIG_HOME/ferry/config.toml (default ~/.config/ferry/config.toml), or the file named
// by --config or FERRY_CONFIG:
//
//   server = "work"                          # the default server: a name below, or HOST:PORT
//   [servers.work]
//   address = "files.example.com:7878"
//   [servers.laptop]
//   address = "127.0.0.1:7878"
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry::client {

struct ClientConfig {
  std::string server;                         // the default; empty if the file sets none
  std::map<std::string, std::string> servers;  // name -> HOST:PORT
};

// 400 with the line and the reason on a TOML error, an unknown key, or a server without an
// address.
Result<ClientConfig> ParseClientConfig(std::string_view toml_text);

// The server's HOST:PORT: --server, else FERRY_SERVER, else the file's default, else
// 127.0.0.1:7878. A value without ':' must be a name from the file (400 otherwise).
Result<std::string> ResolveServer(std::optional<std::string> flag, std::optional<std::string> env,
                                  const ClientConfig& config);

}  // namespace ferry::client
