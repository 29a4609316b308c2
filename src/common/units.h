// Byte sizes as people write them in flags and config files.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;

// "4096", "512K", "512M", "10G", "1T" (binary multiples; an optional trailing "B" or "iB", any
// case). 400 on anything else or on overflow.
Result<std::uint64_t> ParseByteSize(std::string_view text);

// Decimal digits only, no sign, fits in int64 (so it is a valid file offset). nullopt-style:
// returns false on anything else.
bool ParseUint(std::string_view text, std::uint64_t& out);

// "90", "90s", "30m", "24h", "7d": a whole number of seconds, minutes, hours or days. 400 on
// anything else or on overflow.
Result<std::chrono::seconds> ParseDuration(std::string_view text);

// "1.5 GiB", "512 B": for messages and summaries.
std::string FormatBytes(std::uint64_t bytes);

}  // namespace ferry
