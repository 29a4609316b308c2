// "HOST:PORT" and "[V6]:PORT", as every command line and config file of ferry writes a
// server's address. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry {

struct HostPort {
  std::string host;  // a name or an address, without the brackets of an IPv6 one
  std::uint16_t port = 0;
};

// 400 if there is no ':' or the port is not a number from 0 to 65535 (0: any free port, for
// a listener; a client refuses it).
Result<HostPort> ParseHostPort(std::string_view text);

}  // namespace ferry
