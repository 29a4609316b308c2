#include "auth/auth.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace ferry::auth {
namespace {

// SHA-256("s3cret") and SHA-256("pub-token").
const std::string kSecretHash = ToHex(HashToken("s3cret"));
const std::string kPublicHash = ToHex(HashToken("pub-token"));

TEST(HashToken, MatchesTheKnownDigest) {
  EXPECT_EQ(ToHex(HashToken("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

AuthFile Parse(const std::string& text) {
  Result<AuthFile> file = ParseAuthFile(text);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  return file.ok() ? *file : AuthFile{};
}

TEST(ParseAuthFile, ReadsTokensRolesAndPrefixes) {
  AuthFile file = Parse("anonymous = \"read\"\n[[token]]\nsha256 = \"" + kSecretHash +
                        "\"\nrole = \"admin\"\n[[token]]\nsha256 = \"" + kPublicHash +
                        "\"\nrole = \"write\"\nprefix = \"public/\"\n");
  EXPECT_EQ(file.anonymous, Role::kRead);
  ASSERT_EQ(file.tokens.size(), 2u);
  EXPECT_EQ(file.tokens[0].role, Role::kAdmin);
  EXPECT_EQ(file.tokens[1].prefix, "public/");
  EXPECT_EQ(Parse("").anonymous, Role::kNone);
}

TEST(ParseAuthFile, RefusesWhatItCannotTrust) {
  const std::string hash = "sha256 = \"" + kSecretHash + "\"\n";
  for (const std::string& bad : std::vector<std::string>{
           "anonymous = \"write\"\n",        // anonymous writes: not in one line
           std::string("anonymous = 1\n"),
           std::string("tokens = 1\n"),                    // a typo is an error, not ignored
           std::string("[[token]]\nrole = \"read\"\n"),   // no hash
           "[[token]]\n" + hash,                            // no role
           "[[token]]\n" + hash + "role = \"root\"\n",
           "[[token]]\n" + hash + "role = \"none\"\n",
           "[[token]]\nsha256 = \"abc\"\nrole = \"read\"\n",
           "[[token]]\nsha256 = \"" + std::string(64, 'g') + "\"\nrole = \"read\"\n",
           "[[token]]\n" + hash + "role = \"read\"\ntoken = \"plain\"\n",
           "[[token]]\n" + hash + "role = 3\n",
           std::string("token = \"x\"\n"),
           std::string("[[token\n"),
       }) {
    Result<AuthFile> file = ParseAuthFile(bad, "auth.toml");
    EXPECT_FALSE(file.ok()) << bad;
    if (!file.ok()) {
      EXPECT_NE(file.status().message().find("auth.toml"), std::string::npos);
    }
  }
}

TEST(Authenticate, FindsTheTokenByItsHash) {
  AuthFile file = Parse("[[token]]\nsha256 = \"" + kSecretHash + "\"\nrole = \"write\"\n" +
                        "[[token]]\nsha256 = \"" + kPublicHash +
                        "\"\nrole = \"read\"\nprefix = \"public/\"\n");
  std::optional<Identity> writer = Authenticate(file, "s3cret");
  ASSERT_TRUE(writer);
  EXPECT_EQ(writer->role, Role::kWrite);
  EXPECT_TRUE(writer->authenticated);
  std::optional<Identity> reader = Authenticate(file, "pub-token");
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->prefix, "public/");
  EXPECT_FALSE(Authenticate(file, "s3cret "));
  EXPECT_FALSE(Authenticate(file, ""));
  EXPECT_FALSE(Authenticate(file, kSecretHash));  // the hash itself is not a token
}

TEST(Authorize, RolesAddUpAndPrefixesConfine) {
  Identity reader{Role::kRead, "", true}, writer{Role::kWrite, "", true};
  Identity admin{Role::kAdmin, "", true}, public_writer{Role::kWrite, "public/", true};
  EXPECT_TRUE(Authorize(reader, Action::kRead, "a").ok());
  EXPECT_EQ(Authorize(reader, Action::kWrite, "a").code(), Code::kForbidden);
  EXPECT_EQ(Authorize(writer, Action::kAdmin, "").code(), Code::kForbidden);
  EXPECT_TRUE(Authorize(writer, Action::kWrite, "a").ok());
  EXPECT_TRUE(Authorize(admin, Action::kAdmin, "").ok());
  EXPECT_TRUE(Authorize(admin, Action::kWrite, "x/y").ok());
  EXPECT_TRUE(Authorize(public_writer, Action::kWrite, "public/a").ok());
  EXPECT_EQ(Authorize(public_writer, Action::kRead, "private/a").code(), Code::kForbidden);
  EXPECT_EQ(Authorize(public_writer, Action::kRead, "publicity").code(), Code::kForbidden);
}

TEST(AuthorizeList, NarrowsToTheCallersPrefix) {
  Identity all{Role::kRead, "", true}, public_reader{Role::kRead, "public/", true};
  EXPECT_EQ(*AuthorizeList(all, ""), "");
  EXPECT_EQ(*AuthorizeList(all, "logs/"), "logs/");
  EXPECT_EQ(*AuthorizeList(public_reader, ""), "public/");
  EXPECT_EQ(*AuthorizeList(public_reader, "pub"), "public/");
  EXPECT_EQ(*AuthorizeList(public_reader, "public/img/"), "public/img/");
  EXPECT_EQ(AuthorizeList(public_reader, "private/").status().code(), Code::kForbidden);
  AuthFile closed;
  EXPECT_EQ(AuthorizeList(Anonymous(&closed), "").status().code(), Code::kUnauthenticated);
}

TEST(Authorize, AnonymousGets401AndWhatTheFileAllows) {
  EXPECT_TRUE(Authorize(Anonymous(nullptr), Action::kAdmin, "").ok());  // no auth file
  AuthFile closed, open_read;
  open_read.anonymous = Role::kRead;
  EXPECT_EQ(Authorize(Anonymous(&closed), Action::kRead, "a").code(), Code::kUnauthenticated);
  EXPECT_TRUE(Authorize(Anonymous(&open_read), Action::kRead, "a").ok());
  EXPECT_EQ(Authorize(Anonymous(&open_read), Action::kWrite, "a").code(), Code::kUnauthenticated);
}

TEST(TokenFromAuthorization, BearerAndBasic) {
  EXPECT_EQ(TokenFromAuthorization("Bearer s3cret"), "s3cret");
  EXPECT_EQ(TokenFromAuthorization("bearer   s3cret "), "s3cret");
  // "user:s3cret", "x:a:b" (the token may hold ':'), ":tok".
  EXPECT_EQ(TokenFromAuthorization("Basic dXNlcjpzM2NyZXQ="), "s3cret");
  EXPECT_EQ(TokenFromAuthorization("Basic eDphOmI="), "a:b");
  EXPECT_EQ(TokenFromAuthorization("Basic OnRvaw=="), "tok");
  for (const char* bad : {"", "Bearer", "Bearer ", "Token abc", "Basic", "Basic !!!!",
                          "Basic dXNlcg==" /* "user": no colon */, "Basic abc",
                          "Basic dXNlcjo=" /* "user:": empty token */}) {
    EXPECT_FALSE(TokenFromAuthorization(bad)) << bad;
  }
}

TEST(FailureLimiter, BlocksAnAddressAfterTooManyFailuresThenForgives) {
  FailureLimiter limiter({3, std::chrono::seconds(60), 4});
  auto t0 = FailureLimiter::Clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(limiter.Blocked("10.0.0.1", t0).count(), 0);
    limiter.RecordFailure("10.0.0.1", t0);
  }
  EXPECT_EQ(limiter.Blocked("10.0.0.1", t0 + std::chrono::seconds(1)).count(), 59);
  EXPECT_EQ(limiter.Blocked("10.0.0.2", t0).count(), 0);  // others are not punished
  EXPECT_EQ(limiter.Blocked("10.0.0.1", t0 + std::chrono::seconds(60)).count(), 0);
  // Bounded memory: a flood of addresses forgets the oldest, never grows past the bound.
  for (int i = 0; i < 100; ++i) limiter.RecordFailure(fmt::format("10.1.0.{}", i), t0);
  EXPECT_EQ(limiter.Blocked("10.1.0.0", t0).count(), 0);
}

}  // namespace
}  // namespace ferry::auth
