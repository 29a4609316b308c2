// HTTP semantics for files (RFC 9110), as pure functions: dates, entity tags, conditional
// requests, byte ranges and content types. The HTTP door parses headers with Beast, then asks
// these what to answer; no sockets here, so every rule is unit-tested and fuzzed alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/checksum.h"

namespace ferry::http {

// "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate) for Unix seconds.
std::string FormatHttpDate(std::int64_t unix_seconds);
// Any of the three HTTP-date forms (IMF-fixdate, RFC 850, asctime); nullopt if malformed.
std::optional<std::int64_t> ParseHttpDate(std::string_view text);

// The strong entity tag of a version: its checksum, quoted ("\"xxh128:...\"").
std::string EntityTag(const Checksum& checksum);
// If-None-Match: true if `header` is "*" or lists `etag` (weak comparison: W/ is ignored).
bool IfNoneMatchMatches(std::string_view header, std::string_view etag);

// The validators and range a GET or HEAD came with (empty: absent).
struct ReadConditions {
  std::string_view if_none_match;
  std::string_view if_modified_since;
  std::string_view range;
  std::string_view if_range;
};

// What to answer a GET or HEAD of a file of `size` bytes.
struct ReadPlan {
  int status = 200;  // 200, 206 (a range), 304 (not modified) or 416 (unsatisfiable range)
  std::uint64_t offset = 0;
  std::uint64_t length = 0;  // body bytes (0 for 304 and 416)
};

// RFC 9110 section 13.2.2's order: If-None-Match, else If-Modified-Since (304); then Range,
// honoured only if If-Range (an entity tag, strong comparison, or the exact Last-Modified)
// still holds. A single byte range "bytes=F-L", "bytes=F-" or "bytes=-N" gets 206, or 416 if
// it starts at or past the end (any range of an empty file). A Range header that is malformed,
// in another unit or asks for several ranges is ignored: the whole file, 200.
ReadPlan PlanRead(const ReadConditions& conditions, std::uint64_t size, std::int64_t mtime,
                  std::string_view etag);

// "text/html; charset=utf-8", "image/png"...: from the name's extension (case-insensitive),
// application/octet-stream when unknown.
std::string_view ContentTypeFor(std::string_view name);

}  // namespace ferry::http
