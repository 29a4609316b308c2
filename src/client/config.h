// ferry's configuration file and how the server to talk to, and how, is chosen. Pure: the CLI
// reads the file, the token file and the environment; these decide.
//
// $XDG_CONFIG_HOME/ferry/config.toml (default ~/.config/ferry/config.toml), or the file named
// by --config or FERRY_CONFIG:
//
//   server = "work"                          # the default server: a name below, or HOST:PORT
//   token-file = "~/.ferry-token"            # or token = "..."; for every server
//   [servers.work]
//   address = "files.example.com:7878"
//   tls = true                               # TLS 1.2+; `ca` implies it
//   ca = "work-ca.pem"                       # default: the system's trusted CAs
//   token-file = "work.token"                # or token = "..."; wins over the top-level one
//   [servers.laptop]
//   address = "127.0.0.1:7878"
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry::client {

// Where a token comes from: a value, or a file whose first line is the token. At most one of
// the two is set.
struct TokenSetting {
  std::string value;
  std::filesystem::path file;
  bool empty() const { return value.empty() && file.empty(); }
};

struct ServerEntry {
  std::string address;  // HOST:PORT
  bool tls = false;     // `tls = true`, or implied by `ca`
  std::filesystem::path ca;  // empty: the system store
  TokenSetting token;
};

struct ClientConfig {
  std::string server;                          // the default; empty if the file sets none
  TokenSetting token;                          // top-level: for every server
  std::map<std::string, ServerEntry> servers;  // by name
};

// 400 with the line and the reason on a TOML error, an unknown key, a server without an
// address, both `token` and `token-file` in one table, a token that CheckToken refuses, or
// `ca` with `tls = false`. Relative `token-file` and `ca` paths are taken from `base_dir` (the
// config file's folder), so the file means the same from any working directory; a leading
// "~/" is `home` (400 if `home` is empty).
Result<ClientConfig> ParseClientConfig(std::string_view toml_text,
                                       const std::filesystem::path& base_dir = {},
                                       const std::filesystem::path& home = {});

// The server's HOST:PORT: --server, else FERRY_SERVER, else the file's default, else
// 127.0.0.1:7878. A value without ':' must be a name from the file (400 otherwise).
Result<std::string> ResolveServer(std::optional<std::string> flag, std::optional<std::string> env,
                                  const ClientConfig& config);

// What the command line and the environment say; nullopt or false when they say nothing.
struct ConnectionSources {
  std::optional<std::string> server_flag;     // --server
  std::optional<std::string> server_env;      // FERRY_SERVER
  std::optional<std::filesystem::path> token_file_flag;  // --token-file
  std::optional<std::string> token_env;       // FERRY_TOKEN
  bool tls_flag = false;                      // --tls
  std::optional<std::filesystem::path> ca_flag;  // --ca (implies --tls)
};

// How to reach the chosen server. The token is still a setting: reading a token file is the
// caller's I/O (TokenFromFileText does the rest).
struct ConnectionChoice {
  std::string address;        // HOST:PORT
  bool tls = false;
  std::filesystem::path ca;   // empty: the system store
  TokenSetting token;         // empty: no AUTH
  std::string token_origin;   // where the token came from, for messages ("FERRY_TOKEN")
};

// The server as ResolveServer picks it, and the rest by precedence:
//   token: --token-file, else FERRY_TOKEN, else the chosen [servers.NAME]'s, else the
//          top-level one (a HOST:PORT not named in the file gets only the top-level one);
//   tls:   --tls or --ca, else the entry's `tls` (or `ca`);
//   ca:    --ca, else the entry's `ca`, else the system store.
// 400 as ResolveServer, or if FERRY_TOKEN fails CheckToken.
Result<ConnectionChoice> ChooseConnection(const ConnectionSources& sources,
                                          const ClientConfig& config);

// OK for a token the protocol can carry: 1 to 4096 bytes of printable ASCII without spaces.
// The message never contains the token.
Status CheckToken(std::string_view token);

// The token in a token file: its first line, trimmed of spaces, tabs and CR; 400 if that is
// empty or fails CheckToken. `origin` names the file in the message.
Result<std::string> TokenFromFileText(std::string_view text, std::string_view origin);

}  // namespace ferry::client
