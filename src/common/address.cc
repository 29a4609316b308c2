#include "common/address.h"

#include <fmt/format.h>

#include "common/units.h"

namespace ferry {

Result<HostPort> ParseHostPort(std::string_view text) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::BadRequest(fmt::format("'{}' is not HOST:PORT", text));
  }
  std::uint64_t port = 0;
  if (!ParseUint(text.substr(colon + 1), port) || port > 65535) {
    return Status::BadRequest(fmt::format("bad port in '{}'", text));
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return HostPort{std::string(host), static_cast<std::uint16_t>(port)};
}

}  // namespace ferry
