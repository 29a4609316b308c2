// ferryd: the ferry file server.
#include <iostream>
#include <string>

#include "auth/auth.h"
#include "server/config.h"
#include "server/server.h"

namespace {

// `ferryd hash-token`: the token comes on stdin (never argv, which `ps` shows to everyone).
int HashToken() {
  std::string token;
  std::getline(std::cin, token);
  if (!token.empty() && token.back() == '\r') token.pop_back();
  if (token.empty() || token.find_first_of(" \t") != std::string::npos) {
    std::cerr << "ferryd hash-token: give the token on stdin, one line, no spaces\n";
    return 2;
  }
  std::cout << "sha256 = \"" << ferry::auth::ToHex(ferry::auth::HashToken(token)) << "\"\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ferry::server::Invocation invocation = ferry::server::ParseCommandLine(argc, argv);
  if (invocation.exit_now) return invocation.exit_code;
  if (invocation.command == ferry::server::Command::kHashToken) return HashToken();
  if (ferry::Status logs = ConfigureLogging(LogSettingsFor(invocation.config)); !logs.ok()) {
    std::cerr << "ferryd: " << logs.message() << "\n";
    return 2;
  }
  return ferry::server::Server(std::move(invocation.config), std::move(invocation.source)).Run();
}
