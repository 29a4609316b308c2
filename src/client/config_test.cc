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
  EXPECT_EQ(config.servers.at("laptop"), "127.0.0.1:9000");
  EXPECT_TRUE(ParseClientConfig("")->servers.empty());
}

TEST(ClientConfigTest, RefusesWhatItDoesNotKnow) {
  for (std::string_view bad : {"sever = \"x\"", "server = 5", "[servers.a]\naddress = \"nocolon\"",
                               "[servers.a]\nadress = \"h:1\"", "[servers]\na = 1", "server = ",
                               "[servers.a]\naddress = \"h:1\"\ntoken = \"x\""}) {
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

}  // namespace
}  // namespace ferry::client
