#include "client/config.h"

#include <gtest/gtest.h>

namespace ferry::client {
namespace {

constexpr std::string_view kConfig = R"(
server = "work"
[servers.work]
address = "files.example.com:7878"
[servers.laptop]
address = "127.0.0.1:9000"
)";

TEST(ClientConfigTest, ParsesNamedServers) {
  ClientConfig config = *ParseClientConfig(kConfig);
  EXPECT_EQ(config.server, "work");
  EXPECT_EQ(config.servers.at("laptop").address, "127.0.0.1:9000");
  EXPECT_FALSE(config.servers.at("laptop").tls);
  EXPECT_TRUE(config.token.empty());
  EXPECT_TRUE(ParseClientConfig("")->servers.empty());
}

TEST(ClientConfigTest, RefusesWhatItDoesNotKnow) {
  for (std::string_view bad : {"sever = \"x\"", "server = 5", "[servers.a]\naddress = \"nocolon\"",
                               "[servers.a]\nadress = \"h:1\"", "[servers]\na = 1", "server = ",
                               "[servers.a]\naddress = \"h:1\"\ntokn = \"x\"",
                               "tls = true", "ca = \"a.pem\"", "token_file = \"t\"",
                               "token = \"a b\"", "token = \"\"", "token = 5", "token-file = \"\"",
                               "token = \"x\"\ntoken-file = \"t\"",
                               "[servers.a]\naddress = \"h:1\"\ntoken = \"x\"\ntoken-file = \"t\"",
                               "[servers.a]\naddress = \"h:1\"\ntls = \"yes\"",
                               "[servers.a]\naddress = \"h:1\"\ntls = false\nca = \"c.pem\"",
                               "[servers.a]\naddress = \"h:1\"\nca = 1",
                               "[servers.a]\ntoken = \"x\""}) {
    EXPECT_FALSE(ParseClientConfig(bad).ok()) << bad;
  }
  EXPECT_NE(ParseClientConfig("x = 1\n[y").status().message().find("line"), std::string::npos);
}

TEST(ClientConfigTest, PrecedenceFlagThenEnvironmentThenFile) {
  ClientConfig config = *ParseClientConfig(kConfig);
  EXPECT_EQ(*ResolveServer("h:1", "e:2", config), "h:1");
  EXPECT_EQ(*ResolveServer(std::nullopt, "e:2", config), "e:2");
  EXPECT_EQ(*ResolveServer(std::nullopt, std::nullopt, config), "files.example.com:7878");
  EXPECT_EQ(*ResolveServer("laptop", "e:2", config), "127.0.0.1:9000");
  EXPECT_EQ(*ResolveServer(std::nullopt, "laptop", config), "127.0.0.1:9000");
  EXPECT_EQ(*ResolveServer(std::nullopt, std::nullopt, {}), "127.0.0.1:7878");
  Result<std::string> unknown = ResolveServer("home", std::nullopt, config);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("laptop, work"), std::string::npos);
}

constexpr std::string_view kSecureConfig = R"(
server = "work"
token-file = "~/default.token"
[servers.work]
address = "files.example.com:7878"
tls = true
token = "work-secret"
[servers.lab]
address = "lab:7878"
ca = "lab-ca.pem"
token-file = "/etc/ferry/lab.token"
[servers.plain]
address = "127.0.0.1:9000"
)";

TEST(ClientConfigTest, ParsesTokensAndTls) {
  Result<ClientConfig> parsed = ParseClientConfig(kSecureConfig, "/home/me/.config/ferry", "/home/me");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->token.file, "/home/me/default.token");
  EXPECT_TRUE(parsed->token.value.empty());
  const ServerEntry& work = parsed->servers.at("work");
  EXPECT_TRUE(work.tls);
  EXPECT_TRUE(work.ca.empty());
  EXPECT_EQ(work.token.value, "work-secret");
  const ServerEntry& lab = parsed->servers.at("lab");
  EXPECT_TRUE(lab.tls) << "ca implies tls";
  EXPECT_EQ(lab.ca, "/home/me/.config/ferry/lab-ca.pem") << "relative to the config file";
  EXPECT_EQ(lab.token.file, "/etc/ferry/lab.token");
  EXPECT_FALSE(parsed->servers.at("plain").tls);
  // "~/" needs a home folder.
  EXPECT_FALSE(ParseClientConfig(kSecureConfig, "/etc", "").ok());
  EXPECT_TRUE(ParseClientConfig("token = \"t\"\n[servers.a]\naddress = \"h:1\"\ntls = true\n"
                                "ca = \"c.pem\"").ok());
}

TEST(ClientConfigTest, ErrorsNeverShowTheToken) {
  for (std::string_view bad : {"token = \"sec ret\"", "[servers.a]\naddress = \"h:1\"\ntoken = \"sec\tret\""}) {
    Result<ClientConfig> parsed = ParseClientConfig(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().message().find("sec"), std::string::npos) << parsed.status().message();
  }
}

TEST(ClientConfigTest, TokenPrecedence) {
  ClientConfig config = *ParseClientConfig(kSecureConfig, "/cfg", "/home/me");
  // The config file: the chosen server's own token wins over the top-level one.
  ConnectionChoice work = *ChooseConnection({}, config);
  EXPECT_EQ(work.address, "files.example.com:7878");
  EXPECT_EQ(work.token.value, "work-secret");
  EXPECT_NE(work.token_origin.find("servers.work"), std::string::npos);
  ConnectionChoice lab = *ChooseConnection({.server_flag = "lab"}, config);
  EXPECT_EQ(lab.token.file, "/etc/ferry/lab.token");
  EXPECT_TRUE(lab.token.value.empty());
  // A server without its own token, or a HOST:PORT, gets the top-level one.
  EXPECT_EQ(ChooseConnection({.server_flag = "plain"}, config)->token.file, "/home/me/default.token");
  EXPECT_EQ(ChooseConnection({.server_env = "other:1"}, config)->token.file, "/home/me/default.token");
  // FERRY_TOKEN beats the file; --token-file beats both.
  ConnectionChoice env = *ChooseConnection({.token_env = "from-env"}, config);
  EXPECT_EQ(env.token.value, "from-env");
  EXPECT_TRUE(env.token.file.empty());
  EXPECT_EQ(env.token_origin, "FERRY_TOKEN");
  ConnectionChoice flag = *ChooseConnection({.token_file_flag = "/run/t", .token_env = "from-env"}, config);
  EXPECT_EQ(flag.token.file, "/run/t");
  EXPECT_TRUE(flag.token.value.empty());
  EXPECT_NE(flag.token_origin.find("--token-file"), std::string::npos);
  // Nothing anywhere: no token.
  EXPECT_TRUE(ChooseConnection({}, ClientConfig{})->token.empty());
  Result<ConnectionChoice> bad_env = ChooseConnection({.token_env = "has space"}, config);
  ASSERT_FALSE(bad_env.ok());
  EXPECT_NE(bad_env.status().message().find("FERRY_TOKEN"), std::string::npos);
  EXPECT_EQ(bad_env.status().message().find("has space"), std::string::npos);
}

TEST(ClientConfigTest, TlsPrecedence) {
  ClientConfig config = *ParseClientConfig(kSecureConfig, "/cfg", "/home/me");
  EXPECT_TRUE(ChooseConnection({}, config)->tls);                              // servers.work
  EXPECT_FALSE(ChooseConnection({.server_flag = "plain"}, config)->tls);
  EXPECT_TRUE(ChooseConnection({.server_flag = "plain", .tls_flag = true}, config)->tls);
  ConnectionChoice lab = *ChooseConnection({.server_flag = "lab"}, config);
  EXPECT_TRUE(lab.tls);
  EXPECT_EQ(lab.ca, "/cfg/lab-ca.pem");
  ConnectionChoice ca_flag = *ChooseConnection({.server_flag = "lab", .ca_flag = "mine.pem"}, config);
  EXPECT_EQ(ca_flag.ca, "mine.pem");
  ConnectionChoice implied = *ChooseConnection({.server_flag = "h:1", .ca_flag = "mine.pem"}, config);
  EXPECT_TRUE(implied.tls) << "--ca implies --tls";
  EXPECT_FALSE(ChooseConnection({.server_flag = "h:1"}, config)->tls);
}

// Found with config_fuzz: ChooseConnection looked the chosen text up as a name even when
// ResolveServer had taken it as HOST:PORT (or used the default address), so an entry named
// "h:1" or "" lent its token and TLS settings to another address.
TEST(ClientConfigTest, AnEntrysTokenGoesOnlyToItsAddress) {
  ClientConfig config = *ParseClientConfig(R"(
token = "top"
[servers."h:1"]
address = "other:2"
token = "for-other"
tls = true
[servers.""]
address = "elsewhere:3"
token = "for-elsewhere"
tls = true
)", "/cfg", "/home/me");
  for (const ConnectionSources& sources :
       {ConnectionSources{}, ConnectionSources{.server_flag = "h:1"}, ConnectionSources{.server_env = "h:1"}}) {
    ConnectionChoice choice = *ChooseConnection(sources, config);
    EXPECT_EQ(choice.token.value, "top") << choice.address;
    EXPECT_FALSE(choice.tls) << choice.address;
  }
  EXPECT_EQ(ChooseConnection({}, config)->address, "127.0.0.1:7878");
  EXPECT_EQ(ChooseConnection({.server_flag = "h:1"}, config)->address, "h:1");
}

TEST(ClientConfigTest, TokenFileIsItsFirstLineTrimmed) {
  EXPECT_EQ(*TokenFromFileText("  abc.DEF-123 \r\nsecond line\n", "f"), "abc.DEF-123");
  EXPECT_EQ(*TokenFromFileText("tok", "f"), "tok");
  for (std::string_view bad : {"", "\n", "   \r\ntok\n", "to ken\n", "tok\x01\n", "t\xc3\xa9\n"}) {
    Result<std::string> token = TokenFromFileText(bad, "/run/t");
    ASSERT_FALSE(token.ok()) << bad;
    EXPECT_NE(token.status().message().find("/run/t"), std::string::npos);
  }
  EXPECT_FALSE(TokenFromFileText(std::string(5000, 'a'), "f").ok());
  EXPECT_TRUE(CheckToken("!~").ok());
  EXPECT_FALSE(CheckToken("a\x7f").ok());
}

}  // namespace
}  // namespace ferry::client
