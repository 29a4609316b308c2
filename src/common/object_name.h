// Object names: the one name policy for every door (native protocol, HTTP), in docs/security.md.
//
// On the wire a name is percent-encoded (RFC 3986 style), so spaces and UTF-8 travel in one
// token. It is decoded exactly once, then must be canonical; nothing is silently rewritten:
//   - valid UTF-8 (no overlong forms, no surrogates), at most 4096 bytes in all;
//   - '/'-separated segments, each non-empty, not "." or "..", at most 255 bytes
//     (so no leading, trailing or doubled '/');
//   - no NUL, no control byte (C0, DEL, C1), no backslash;
//   - the first segment is not ".ferry", the data store's private folder.
// An ObjectName can only be made valid, so code that holds one need not check again.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry {

inline constexpr std::size_t kMaxNameBytes = 4096;
inline constexpr std::size_t kMaxSegmentBytes = 255;
inline constexpr std::string_view kPrivateFolder = ".ferry";

// Percent-encodes every byte except RFC 3986 unreserved characters and '/'.
std::string PercentEncode(std::string_view bytes);
// Decodes %XX escapes (hex in either case). A '%' not followed by two hex digits is an error.
// '+' stays '+'. The result may hold any byte; callers validate it.
Result<std::string> PercentDecode(std::string_view text);

// True if `bytes` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or > U+10FFFF).
bool IsValidUtf8(std::string_view bytes);

// OK if `decoded` obeys the policy above; else 400 (or 403 for the private folder) saying why.
Status ValidateName(std::string_view decoded);

class ObjectName {
 public:
  // From the wire form: percent-decoded once, then validated.
  static Result<ObjectName> FromWire(std::string_view encoded);
  // From an already decoded name (a local path given to the client, an HTTP path).
  static Result<ObjectName> FromDecoded(std::string_view decoded);

  const std::string& str() const { return name_; }
  std::string ToWire() const { return PercentEncode(name_); }

  friend bool operator==(const ObjectName&, const ObjectName&) = default;
  friend auto operator<=>(const ObjectName&, const ObjectName&) = default;

 private:
  explicit ObjectName(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

// A LIST prefix: the first bytes of names ("logs/", "logs/2024-"). Decoded once, valid UTF-8,
// no control bytes or backslash, no leading '/', no "." or ".." segment; may be empty and may
// end in '/' or in the middle of a segment.
Result<std::string> PrefixFromWire(std::string_view encoded);

}  // namespace ferry
