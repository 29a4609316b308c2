// The kernel's own count of what a TCP connection moved, for the minimum-rate check: bytes the
// peer acknowledged plus bytes received. Apart from stream.cc because <linux/tcp.h>, which has
// these fields, cannot meet glibc's <netinet/tcp.h>, which lacks them and which Asio includes.
#pragma once

#include <cstdint>
#include <optional>

namespace ferry::server {

// Bytes acknowledged by the peer plus bytes received on the TCP socket `fd`, since it opened;
// nullopt if the kernel cannot say (not TCP, or a kernel older than Linux 4.2).
std::optional<std::uint64_t> TcpBytesMoved(int fd);

}  // namespace ferry::server
