#include "auth/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace ferry::auth {
namespace {

bool StartsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

std::optional<Sha256> ParseHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Sha256 out{};
  for (std::size_t i = 0; i < 32; ++i) {
    unsigned value = 0;
    for (char c : hex.substr(2 * i, 2)) {
      value <<= 4;
      if (c >= '0' && c <= '9') value |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') value |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') value |= static_cast<unsigned>(c - 'A' + 10);
      else return std::nullopt;
    }
    out[i] = static_cast<std::uint8_t>(value);
  }
  return out;
}

std::string Where(std::string_view source, const toml::node& node) {
  return fmt::format("{}:{}", source, node.source().begin.line);
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kNone: return "none";
    case Role::kRead: return "read";
    case Role::kWrite: return "write";
    case Role::kAdmin: return "admin";
  }
  return "none";
}

std::optional<Role> ParseRole(std::string_view text) {
  for (Role role : {Role::kNone, Role::kRead, Role::kWrite, Role::kAdmin}) {
    if (text == RoleName(role)) return role;
  }
  return std::nullopt;
}

Sha256 HashToken(std::string_view token) {
  Sha256 out{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), out.data());
  return out;
}

std::string ToHex(const Sha256& hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t byte : hash) {
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0xf]);
  }
  return out;
}

bool Identity::Sees(std::string_view name) const { return name.starts_with(prefix); }

Result<AuthFile> ParseAuthFile(std::string_view text, std::string_view source) {
  toml::table table;
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    return Status::BadRequest(fmt::format("{}:{}: {}", source, error.source().begin.line,
                                          error.description()));
  }
  AuthFile file;
  for (auto&& [key, value] : table) {
    if (key.str() == "anonymous") {
      std::optional<std::string_view> role = value.value<std::string_view>();
      if (!role || (*role != "none" && *role != "read")) {
        return Status::BadRequest(
            fmt::format("{}: anonymous must be \"none\" or \"read\"", Where(source, value)));
      }
      file.anonymous = *ParseRole(*role);
    } else if (key.str() != "token") {
      return Status::BadRequest(
          fmt::format("{}: unknown key '{}' (known: anonymous, [[token]])", Where(source, value),
                      key.str()));
    }
  }
  const toml::node* tokens = table.get("token");
  if (tokens == nullptr) return file;
  const toml::array* entries = tokens->as_array();
  if (entries == nullptr) {
    return Status::BadRequest(fmt::format("{}: tokens are written [[token]]", Where(source, *tokens)));
  }
  for (const toml::node& node : *entries) {
    const toml::table* entry = node.as_table();
    if (entry == nullptr) {
      return Status::BadRequest(fmt::format("{}: tokens are written [[token]]", Where(source, node)));
    }
    TokenEntry token;
    bool has_hash = false, has_role = false;
    for (auto&& [key, value] : *entry) {
      std::optional<std::string_view> text_value = value.value<std::string_view>();
      std::string where = Where(source, value);
      if (!text_value) return Status::BadRequest(fmt::format("{}: '{}' wants a string", where, key.str()));
      if (key.str() == "sha256") {
        std::optional<Sha256> hash = ParseHex(*text_value);
        if (!hash) {
          return Status::BadRequest(fmt::format(
              "{}: sha256 wants 64 hex digits (ferryd hash-token prints them)", where));
        }
        token.sha256 = *hash;
        has_hash = true;
      } else if (key.str() == "role") {
        std::optional<Role> role = ParseRole(*text_value);
        if (!role || *role == Role::kNone) {
          return Status::BadRequest(fmt::format("{}: role must be read, write or admin", where));
        }
        token.role = *role;
        has_role = true;
      } else if (key.str() == "prefix") {
        token.prefix = *text_value;
      } else {
        return Status::BadRequest(fmt::format(
            "{}: unknown key '{}' in [[token]] (known: sha256, role, prefix)", where, key.str()));
      }
    }
    if (!has_hash || !has_role) {
      return Status::BadRequest(
          fmt::format("{}: a [[token]] needs sha256 and role", Where(source, node)));
    }
    file.tokens.push_back(std::move(token));
  }
  return file;
}

Identity Anonymous(const AuthFile* file) {
  if (file == nullptr) return {Role::kAdmin, "", false};
  return {file->anonymous, "", false};
}

std::optional<Identity> Authenticate(const AuthFile& file, std::string_view token) {
  Sha256 presented = HashToken(token);
  const TokenEntry* match = nullptr;
  for (const TokenEntry& entry : file.tokens) {
    bool equal = CRYPTO_memcmp(entry.sha256.data(), presented.data(), presented.size()) == 0;
    if (equal && match == nullptr) match = &entry;  // keep going: the same time for every token
  }
  if (match == nullptr) return std::nullopt;
  return Identity{match->role, match->prefix, true};
}

Status Authorize(const Identity& who, Action action, std::string_view name) {
  Role needed = action == Action::kRead    ? Role::kRead
                : action == Action::kWrite ? Role::kWrite
                                           : Role::kAdmin;
  bool allowed = who.role >= needed && who.Sees(name);
  if (allowed) return Status::Ok();
  if (!who.authenticated) {
    return Status::Unauthenticated("authentication required (AUTH <token>, or HTTP Authorization)");
  }
  if (who.role < needed) {
    return Status::Forbidden(fmt::format("the token's role ({}) does not allow this",
                                         RoleName(who.role)));
  }
  return Status::Forbidden(fmt::format("the token sees only names under '{}'", who.prefix));
}

Result<std::string> AuthorizeList(const Identity& who, std::string_view prefix) {
  std::string listed(std::string_view(who.prefix).starts_with(prefix) ? who.prefix : prefix);
  if (Status allowed = Authorize(who, Action::kRead, listed); !allowed.ok()) return allowed;
  return listed;
}

std::optional<std::string> TokenFromAuthorization(std::string_view header) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  header = trim(header);
  if (StartsWithIgnoringCase(header, "bearer ")) {
    std::string_view token = trim(header.substr(7));
    if (token.empty()) return std::nullopt;
    return std::string(token);
  }
  if (!StartsWithIgnoringCase(header, "basic ")) return std::nullopt;
  std::string_view encoded = trim(header.substr(6));
  if (encoded.empty() || encoded.size() % 4 != 0 || encoded.size() > 8192) return std::nullopt;
  std::string decoded(encoded.size() / 4 * 3, '\0');
  int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                               reinterpret_cast<const unsigned char*>(encoded.data()),
                               static_cast<int>(encoded.size()));
  if (length < 0) return std::nullopt;
  // EVP_DecodeBlock counts the '=' padding as zero bytes; drop them.
  std::size_t padding = encoded.ends_with("==") ? 2 : encoded.ends_with("=") ? 1 : 0;
  decoded.resize(static_cast<std::size_t>(length) - padding);
  std::size_t colon = decoded.find(':');
  if (colon == std::string::npos || colon + 1 == decoded.size()) return std::nullopt;
  return decoded.substr(colon + 1);
}

std::chrono::seconds FailureLimiter::Blocked(const std::string& address, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(address);
  if (found == entries_.end() || found->second.failures < options_.max_failures) {
    return std::chrono::seconds(0);
  }
  auto until = found->second.first + options_.window;
  if (now >= until) {
    entries_.erase(found);
    return std::chrono::seconds(0);
  }
  return std::chrono::ceil<std::chrono::seconds>(until - now);
}

void FailureLimiter::RecordFailure(const std::string& address, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(address);
  if (found != entries_.end() && now >= found->second.first + options_.window) {
    entries_.erase(found);
    found = entries_.end();
  }
  if (found == entries_.end()) {
    if (entries_.size() >= options_.max_addresses) ForgetExpired(now);
    if (entries_.size() >= options_.max_addresses) {
      // Still full: forget the entry that started longest ago.
      auto oldest = std::min_element(entries_.begin(), entries_.end(), [](auto& a, auto& b) {
        return a.second.first < b.second.first;
      });
      entries_.erase(oldest);
    }
    found = entries_.emplace(address, Entry{now, 0}).first;
  }
  ++found->second.failures;
}

void FailureLimiter::ForgetExpired(Clock::time_point now) {
  std::erase_if(entries_, [&](const auto& item) { return now >= item.second.first + options_.window; });
}

}  // namespace ferry::auth
