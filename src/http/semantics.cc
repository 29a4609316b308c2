#include "http/semantics.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <ctime>
#include <map>

#include <fmt/format.h>

namespace ferry::http {
namespace {

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kWeekdays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Consumes exactly `digits` decimal digits (or 1-2 when digits == 0) from the front of text.
bool TakeNumber(std::string_view& text, int digits, int& out) {
  std::size_t n = 0;
  std::size_t most = digits == 0 ? 2 : static_cast<std::size_t>(digits);
  while (n < most && n < text.size() && std::isdigit(static_cast<unsigned char>(text[n]))) ++n;
  if (n == 0 || (digits != 0 && n != most)) return false;
  std::from_chars(text.data(), text.data() + n, out);
  text.remove_prefix(n);
  return true;
}

bool TakeLiteral(std::string_view& text, std::string_view literal) {
  if (!text.starts_with(literal)) return false;
  text.remove_prefix(literal.size());
  return true;
}

bool TakeMonth(std::string_view& text, int& month) {
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (TakeLiteral(text, kMonths[i])) {
      month = static_cast<int>(i);
      return true;
    }
  }
  return false;
}

bool TakeTime(std::string_view& text, std::tm& tm) {
  return TakeNumber(text, 2, tm.tm_hour) && TakeLiteral(text, ":") &&
         TakeNumber(text, 2, tm.tm_min) && TakeLiteral(text, ":") &&
         TakeNumber(text, 2, tm.tm_sec);
}

// A real date of years 0000-9999 (RFC 9110 5.6.7); a second of 60 (a leap second) is the next
// minute's first. Nothing else is normalized: "31 Feb" is not a date, and a time past the end
// of 9999 would print (FormatHttpDate) as a date no one can parse.
std::optional<std::int64_t> ToUnix(std::tm tm) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int year = tm.tm_year + 1900;
  bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  int days = tm.tm_mon == 1 && !leap ? 28 : kDays[tm.tm_mon];
  if (tm.tm_mday < 1 || tm.tm_mday > days || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  constexpr std::int64_t kLastSecondOf9999 = 253402300799;
  auto seconds = static_cast<std::int64_t>(timegm(&tm));
  if (seconds > kLastSecondOf9999) return std::nullopt;
  return seconds;
}

// An entity tag's opaque part, quotes included, without a weak W/ prefix.
std::string_view OpaqueTag(std::string_view tag) {
  tag = Trim(tag);
  if (tag.starts_with("W/")) tag.remove_prefix(2);
  return tag;
}

bool ParseUint64(std::string_view text, std::uint64_t& out) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

// The single range of `header` for a `size`-byte file: 206, 416, or nullopt (ignore it).
std::optional<ReadPlan> PlanRange(std::string_view header, std::uint64_t size) {
  header = Trim(header);
  // The unit is case-insensitive (RFC 9110 14.1).
  if (header.size() < 6 || !std::equal(header.begin(), header.begin() + 6, "bytes=",
                                       [](char a, char b) { return std::tolower(a) == b; })) {
    return std::nullopt;
  }
  std::string_view spec = Trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return std::nullopt;  // several: send it whole
  std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view first_text = Trim(spec.substr(0, dash));
  std::string_view last_text = Trim(spec.substr(dash + 1));
  constexpr ReadPlan kUnsatisfiable{416, 0, 0};
  if (first_text.empty()) {  // "-N": the last N bytes
    std::uint64_t suffix = 0;
    if (!ParseUint64(last_text, suffix)) return std::nullopt;
    if (suffix == 0 || size == 0) return kUnsatisfiable;
    std::uint64_t length = std::min(suffix, size);
    return ReadPlan{206, size - length, length};
  }
  std::uint64_t first = 0;
  if (!ParseUint64(first_text, first)) return std::nullopt;
  std::uint64_t last = UINT64_MAX;
  if (!last_text.empty() && !ParseUint64(last_text, last)) return std::nullopt;
  if (last < first) return std::nullopt;  // invalid range-spec: ignored
  if (first >= size) return kUnsatisfiable;
  last = std::min(last, size - 1);
  return ReadPlan{206, first, last - first + 1};
}

}  // namespace

std::string FormatHttpDate(std::int64_t unix_seconds) {
  auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kWeekdays[tm.tm_wday % 7],
                     tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::optional<std::int64_t> ParseHttpDate(std::string_view text) {
  text = Trim(text);
  std::tm tm{};
  int year = 0;
  std::size_t comma = text.find(',');
  if (comma == 3) {  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    text.remove_prefix(4);
    if (!(TakeLiteral(text, " ") && TakeNumber(text, 2, tm.tm_mday) && TakeLiteral(text, " ") &&
          TakeMonth(text, tm.tm_mon) && TakeLiteral(text, " ") && TakeNumber(text, 4, year) &&
          TakeLiteral(text, " ") && TakeTime(text, tm) && text == " GMT")) {
      return std::nullopt;
    }
  } else if (comma != std::string_view::npos) {  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
    text.remove_prefix(comma + 1);
    if (!(TakeLiteral(text, " ") && TakeNumber(text, 2, tm.tm_mday) && TakeLiteral(text, "-") &&
          TakeMonth(text, tm.tm_mon) && TakeLiteral(text, "-") && TakeNumber(text, 2, year) &&
          TakeLiteral(text, " ") && TakeTime(text, tm) && text == " GMT")) {
      return std::nullopt;
    }
    year += year < 70 ? 2000 : 1900;  // two-digit years: 70-99 are 19xx, as most servers read them
  } else {  // asctime: "Sun Nov  6 08:49:37 1994"
    if (text.size() < 4) return std::nullopt;
    text.remove_prefix(4);
    TakeLiteral(text, " ");  // a one-digit day is padded with a space
    if (!(TakeMonth(text, tm.tm_mon) && TakeLiteral(text, " "))) return std::nullopt;
    TakeLiteral(text, " ");
    if (!(TakeNumber(text, 0, tm.tm_mday) && TakeLiteral(text, " ") && TakeTime(text, tm) &&
          TakeLiteral(text, " ") && TakeNumber(text, 4, year) && text.empty())) {
      return std::nullopt;
    }
  }
  tm.tm_year = year - 1900;
  return ToUnix(tm);
}

std::string EntityTag(const Checksum& checksum) { return "\"" + checksum.ToString() + "\""; }

bool IfNoneMatchMatches(std::string_view header, std::string_view etag) {
  header = Trim(header);
  if (header == "*") return true;
  while (!header.empty()) {
    std::size_t comma = header.find(',');
    if (OpaqueTag(header.substr(0, comma)) == OpaqueTag(etag)) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

ReadPlan PlanRead(const ReadConditions& conditions, std::uint64_t size, std::int64_t mtime,
                  std::string_view etag) {
  const ReadPlan whole{200, 0, size};
  if (!conditions.if_none_match.empty()) {
    if (IfNoneMatchMatches(conditions.if_none_match, etag)) return {304, 0, 0};
  } else if (!conditions.if_modified_since.empty()) {
    std::optional<std::int64_t> since = ParseHttpDate(conditions.if_modified_since);
    if (since && mtime <= *since) return {304, 0, 0};
  }
  if (conditions.range.empty()) return whole;
  if (!conditions.if_range.empty()) {
    std::string_view validator = Trim(conditions.if_range);
    bool holds = validator.starts_with('"') ? validator == etag
                                            : ParseHttpDate(validator) == std::optional(mtime);
    if (!holds) return whole;
  }
  return PlanRange(conditions.range, size).value_or(whole);
}

std::string_view ContentTypeFor(std::string_view name) {
  static const std::map<std::string, std::string_view, std::less<>> kTypes = {
      {"7z", "application/x-7z-compressed"}, {"avif", "image/avif"},
      {"bz2", "application/x-bzip2"},        {"c", "text/plain; charset=utf-8"},
      {"cc", "text/plain; charset=utf-8"},   {"css", "text/css; charset=utf-8"},
      {"csv", "text/csv; charset=utf-8"},    {"deb", "application/vnd.debian.binary-package"},
      {"gif", "image/gif"},                  {"gz", "application/gzip"},
      {"h", "text/plain; charset=utf-8"},    {"htm", "text/html; charset=utf-8"},
      {"html", "text/html; charset=utf-8"},  {"ico", "image/vnd.microsoft.icon"},
      {"iso", "application/x-iso9660-image"}, {"jpeg", "image/jpeg"},
      {"jpg", "image/jpeg"},                 {"js", "text/javascript; charset=utf-8"},
      {"json", "application/json"},          {"log", "text/plain; charset=utf-8"},
      {"md", "text/markdown; charset=utf-8"}, {"mjs", "text/javascript; charset=utf-8"},
      {"mp3", "audio/mpeg"},                 {"mp4", "video/mp4"},
      {"ogg", "audio/ogg"},                  {"pdf", "application/pdf"},
      {"png", "image/png"},                  {"py", "text/plain; charset=utf-8"},
      {"sh", "text/plain; charset=utf-8"},   {"svg", "image/svg+xml"},
      {"tar", "application/x-tar"},          {"toml", "text/plain; charset=utf-8"},
      {"txt", "text/plain; charset=utf-8"},  {"wasm", "application/wasm"},
      {"webm", "video/webm"},                {"webp", "image/webp"},
      {"woff2", "font/woff2"},               {"xml", "application/xml"},
      {"xz", "application/x-xz"},            {"yaml", "text/plain; charset=utf-8"},
      {"zip", "application/zip"},            {"zst", "application/zstd"}};
  constexpr std::string_view kDefault = "application/octet-stream";
  std::size_t slash = name.rfind('/');
  std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  std::size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || base.size() - dot > 8) return kDefault;
  std::string extension(base.substr(dot + 1));
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto found = kTypes.find(extension);
  return found == kTypes.end() ? kDefault : found->second;
}

}  // namespace ferry::http
