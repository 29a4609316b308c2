#include "common/address.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(ParseHostPort, NamesAddressesAndBracketedV6) {
  Result<HostPort> v4 = ParseHostPort("127.0.0.1:7878");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 7878);
  Result<HostPort> v6 = ParseHostPort("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  Result<HostPort> name = ParseHostPort("files.example.com:65535");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->host, "files.example.com");
}

TEST(ParseHostPort, RefusesWhatIsNotAnAddress) {
  for (const char* bad : {"", "localhost", "host:", "host:65536", "host:-1", "host:http", ":1x"}) {
    Result<HostPort> parsed = ParseHostPort(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
  }
}

}  // namespace
}  // namespace ferry
