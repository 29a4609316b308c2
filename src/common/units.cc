#include "common/units.h"

#include <cctype>
#include <limits>

#include <fmt/format.h>

namespace ferry {

bool ParseUint(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 19) return false;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
  out = value;
  return true;
}

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Status::BadRequest(fmt::format("'{}' is not a duration like 90s, 30m, 24h or 7d", text));
  };
  if (text.empty()) return bad();
  std::uint64_t unit = 1;
  std::string_view digits = text;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: unit = 0;
  }
  if (unit != 0) digits.remove_suffix(1);
  else unit = 1;
  std::uint64_t number = 0;
  // At most a century: larger numbers are typos, and seconds must fit an int64 with room.
  if (!ParseUint(digits, number) || number > 100ull * 365 * 86400 / unit) return bad();
  return std::chrono::seconds(static_cast<std::int64_t>(number * unit));
}

Result<std::uint64_t> ParseByteSize(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  std::uint64_t number = 0;
  if (!ParseUint(text.substr(0, digits), number)) {
    return Status::BadRequest(fmt::format("not a size: '{}'", text));
  }
  std::string unit;
  for (char c : text.substr(digits)) unit.push_back(static_cast<char>(std::toupper(c)));
  if (unit.ends_with("IB")) unit.resize(unit.size() - 2);
  else if (unit.ends_with("B")) unit.resize(unit.size() - 1);
  std::uint64_t multiplier;
  if (unit.empty()) multiplier = 1;
  else if (unit == "K") multiplier = kKiB;
  else if (unit == "M") multiplier = kMiB;
  else if (unit == "G") multiplier = kGiB;
  else if (unit == "T") multiplier = kGiB * 1024;
  else return Status::BadRequest(fmt::format("unknown size unit in '{}'", text));
  if (number > std::numeric_limits<std::uint64_t>::max() / multiplier) {
    return Status::BadRequest(fmt::format("size too large: '{}'", text));
  }
  return number * multiplier;
}

std::string FormatBytes(std::uint64_t bytes) {
  if (bytes < kKiB) return fmt::format("{} B", bytes);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  int unit = 0;
  while (value >= 1024.0 && unit < 3) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

}  // namespace ferry
