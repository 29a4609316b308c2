// auth_fuzz: the auth file and the Authorization header (auth/auth.h). The input is text:
//   an Authorization header / a user name / a token / then an auth file (TOML).
//
// Invariants:
//  - TokenFromAuthorization: a Bearer token is non-empty and trimmed; "Basic " + base64 of
//    "USER:TOKEN" (USER without ':', TOKEN non-empty) gives TOKEN back, byte for byte, and
//    "Bearer TOKEN" gives TOKEN for a token without spaces or tabs at its ends;
//  - ParseAuthFile: a refusal is a 400 that names the file; an accepted file has anonymous
//    none or read and every token read, write or admin, and written back as TOML it reads
//    back the same;
//  - a file made for the input's token (its SHA-256, a role, the user as prefix)
//    authenticates that token and no other, Authorize follows role and prefix, and
//    AuthorizeList lists a readable prefix as asked and one above the token's as the token's.
#include <string>

#include "auth/auth.h"
#include "common/object_name.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/toml_text.h"

namespace ferry::auth {
namespace {

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t group = 0;
    std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    for (std::size_t k = 0; k < 3; ++k) {
      group = group << 8 | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    }
    for (std::size_t k = 0; k < 4; ++k) {
      out += k <= n ? kAlphabet[(group >> (18 - 6 * k)) & 0x3f] : '=';
    }
  }
  return out;
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string ToToml(const AuthFile& file) {
  std::string out = "anonymous = " + fuzz::TomlString(RoleName(file.anonymous)) + "\n";
  for (const TokenEntry& entry : file.tokens) {
    out += "[[token]]\nsha256 = " + fuzz::TomlString(ToHex(entry.sha256)) +
           "\nrole = " + fuzz::TomlString(RoleName(entry.role)) +
           "\nprefix = " + fuzz::TomlString(entry.prefix) + "\n";
  }
  return out;
}

bool Same(const AuthFile& a, const AuthFile& b) {
  if (a.anonymous != b.anonymous || a.tokens.size() != b.tokens.size()) return false;
  for (std::size_t i = 0; i < a.tokens.size(); ++i) {
    if (a.tokens[i].sha256 != b.tokens[i].sha256 || a.tokens[i].role != b.tokens[i].role ||
        a.tokens[i].prefix != b.tokens[i].prefix) {
      return false;
    }
  }
  return true;
}

void CheckHeader(std::string_view header, std::string_view user, std::string_view token) {
  std::optional<std::string> any = TokenFromAuthorization(header);
  if (any) FUZZ_CHECK(!any->empty());
  std::string_view trimmed = header;
  while (!trimmed.empty() && IsBlank(trimmed.front())) trimmed.remove_prefix(1);
  if (any && trimmed.size() > 7 && (trimmed[0] == 'b' || trimmed[0] == 'B') &&
      (trimmed[1] == 'e' || trimmed[1] == 'E')) {
    FUZZ_CHECK(!IsBlank(any->front()) && !IsBlank(any->back()));
  }

  if (!token.empty() && user.find(':') == std::string_view::npos) {
    std::string basic = "Basic " + Base64(std::string(user) + ":" + std::string(token));
    if (basic.size() - 6 <= 8192) {
      std::optional<std::string> from_basic = TokenFromAuthorization(basic);
      FUZZ_CHECK(from_basic && *from_basic == token);
      FUZZ_CHECK(TokenFromAuthorization(" bAsIc  " + basic.substr(6) + "\t") == from_basic);
    }
  }
  if (!token.empty() && !IsBlank(token.front()) && !IsBlank(token.back())) {
    FUZZ_CHECK(TokenFromAuthorization("Bearer " + std::string(token)) == token);
  }
}

void CheckAuthFile(std::string_view text) {
  Result<AuthFile> file = ParseAuthFile(text, "fuzz.toml");
  if (!file.ok()) {
    FUZZ_CHECK(file.status().code() == Code::kBadRequest);
    FUZZ_CHECK(file.status().message().starts_with("fuzz.toml"));
    return;
  }
  FUZZ_CHECK(file->anonymous == Role::kNone || file->anonymous == Role::kRead);
  for (const TokenEntry& entry : file->tokens)
    FUZZ_CHECK(entry.role >= Role::kRead && entry.role <= Role::kAdmin);
  Result<AuthFile> reread = ParseAuthFile(ToToml(*file), "written.toml");
  FUZZ_CHECK(reread.ok() && Same(*reread, *file));
}

void CheckAuthenticate(std::string_view user, std::string_view token, std::uint8_t pick) {
  if (!IsValidUtf8(user)) return;  // TOML strings are UTF-8
  const Role role = pick % 3 == 0 ? Role::kRead : pick % 3 == 1 ? Role::kWrite : Role::kAdmin;
  AuthFile made;
  made.anonymous = pick & 4 ? Role::kRead : Role::kNone;
  made.tokens.push_back({HashToken("not " + std::string(token)), Role::kAdmin, ""});
  made.tokens.push_back({HashToken(token), role, std::string(user)});
  Result<AuthFile> file = ParseAuthFile(ToToml(made));
  FUZZ_CHECK(file.ok() && Same(*file, made));

  std::optional<Identity> who = Authenticate(*file, token);
  FUZZ_CHECK(who && who->authenticated && who->role == role && who->prefix == user);
  FUZZ_CHECK(!Authenticate(*file, std::string(token) + "x"));
  std::string inside = std::string(user) + "f";
  FUZZ_CHECK(Authorize(*who, Action::kRead, inside).ok());
  FUZZ_CHECK(Authorize(*who, Action::kWrite, inside).ok() == (role >= Role::kWrite));
  FUZZ_CHECK(Authorize(*who, Action::kAdmin, inside).ok() == (role == Role::kAdmin));
  if (!user.empty()) {
    Status outside = Authorize(*who, Action::kRead, user.substr(0, user.size() - 1));
    FUZZ_CHECK(outside.code() == Code::kForbidden);
  }
  // LIST: what is listed starts with the asked prefix and is readable; a readable prefix is
  // listed as asked; a prefix above the token's own lists the token's.
  for (std::string_view prefix : {user, user.substr(0, user.size() / 2), token}) {
    Result<std::string> listed = AuthorizeList(*who, prefix);
    if (listed.ok()) {
      FUZZ_CHECK(listed->starts_with(prefix) && Authorize(*who, Action::kRead, *listed).ok());
    }
    if (Authorize(*who, Action::kRead, prefix).ok()) FUZZ_CHECK(listed.ok() && *listed == prefix);
    if (user.starts_with(prefix)) FUZZ_CHECK(listed.ok() && *listed == user);
  }
  Identity anonymous = Anonymous(&*file);
  FUZZ_CHECK(!anonymous.authenticated && anonymous.role == made.anonymous);
  Status anonymous_write = Authorize(anonymous, Action::kWrite, inside);
  FUZZ_CHECK(anonymous_write.code() == Code::kUnauthenticated);
}

}  // namespace
}  // namespace ferry::auth

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry;
  fuzz::FuzzInput input(data, size);
  std::string_view header = input.Line();
  std::string_view user = input.Line();
  std::string_view token = input.Line();
  std::uint8_t pick = header.empty() ? 0 : static_cast<std::uint8_t>(header.back());
  auth::CheckHeader(header, user, token);
  auth::CheckAuthenticate(user, token, pick);
  auth::CheckAuthFile(input.rest());
  auth::CheckAuthFile(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
