// Who may do what: tokens, roles and path prefixes (docs/security.md). Pure functions and
// values, shared by both doors; the server holds one AuthFile and a FailureLimiter.
//
// The auth file (TOML) stores only the SHA-256 of each token, so reading it gives no one a
// token. A presented token is hashed and compared with every entry in constant time.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ferry::auth {

// Each role may do what the one before it may, and more.
enum class Role { kNone, kRead, kWrite, kAdmin };
// What a request needs: LIST/STAT/GET/HEAD read; PUT/DEL write; STATS and /metrics admin.
enum class Action { kRead, kWrite, kAdmin };

std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view text);

using Sha256 = std::array<std::uint8_t, 32>;
Sha256 HashToken(std::string_view token);
std::string ToHex(const Sha256& hash);

// What a connection may do, once known.
struct Identity {
  Role role = Role::kNone;
  std::string prefix;           // it sees only names starting with this; empty: all
  bool authenticated = false;   // presented a valid token (else: anonymous)
  // May it see `name` (or a LIST prefix) at all?
  bool Sees(std::string_view name) const;
};

struct TokenEntry {
  Sha256 sha256{};
  Role role = Role::kRead;
  std::string prefix;
};

struct AuthFile {
  Role anonymous = Role::kNone;  // "none" or "read"
  std::vector<TokenEntry> tokens;
};

// Parses the auth file's text; errors name the line and the key. `source` names it in errors.
Result<AuthFile> ParseAuthFile(std::string_view text, std::string_view source = "auth file");

// The identity of a connection that has not presented a token: everything when there is no
// auth file (`file` null), else the file's anonymous role.
Identity Anonymous(const AuthFile* file);
// The identity a token grants, or nullopt if no entry matches. Compares with every entry
// (CRYPTO_memcmp), so the time taken does not depend on which entry, if any, matched.
std::optional<Identity> Authenticate(const AuthFile& file, std::string_view token);

// OK if `who` may do `action` on `name` (a LIST prefix for LIST; empty for STATS). Denied:
// 401 for an anonymous caller (a token might help), 403 for an authenticated one.
Status Authorize(const Identity& who, Action action, std::string_view name);

// What a LIST of `prefix` by `who` really lists: the caller's own prefix when it lies inside
// `prefix` (LIST "" by a "public/" token lists "public/"), else `prefix`; refused as by
// Authorize when the caller may not read there.
Result<std::string> AuthorizeList(const Identity& who, std::string_view prefix);

// The token in an HTTP Authorization header: "Bearer TOKEN", or "Basic base64(USER:TOKEN)"
// (any user name; browsers and `curl -u` speak Basic). nullopt if absent or malformed.
std::optional<std::string> TokenFromAuthorization(std::string_view header);

// Failed authentications per client address: after `max_failures` within `window`, the
// address is refused (429) until the window since its first counted failure has passed.
// Bounded: at most `max_addresses` are remembered (the oldest entries are forgotten first).
// Thread-safe.
class FailureLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    unsigned max_failures = 10;
    std::chrono::seconds window{60};
    std::size_t max_addresses = 65536;
  };
  FailureLimiter() : FailureLimiter(Options{}) {}
  explicit FailureLimiter(Options options) : options_(options) {}

  // How long `address` must still wait; zero if it may try now.
  std::chrono::seconds Blocked(const std::string& address, Clock::time_point now);
  void RecordFailure(const std::string& address, Clock::time_point now);

 private:
  struct Entry {
    Clock::time_point first;
    unsigned failures = 0;
  };
  void ForgetExpired(Clock::time_point now);

  Options options_;
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace ferry::auth
