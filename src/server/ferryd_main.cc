// ferryd: the ferry file server.
#include "server/config.h"
#include "server/server.h"

int main(int argc, char** argv) {
  ferry::server::Invocation invocation = ferry::server::ParseCommandLine(argc, argv);
  if (invocation.exit_now) return invocation.exit_code;
  ferry::server::InitLogging(invocation.config.log_level);
  return ferry::server::Server(std::move(invocation.config)).Run();
}
