#include "common/units.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(Units, ParseByteSize) {
  EXPECT_EQ(*ParseByteSize("0"), 0u);
  EXPECT_EQ(*ParseByteSize("4096"), 4096u);
  EXPECT_EQ(*ParseByteSize("512K"), 512 * kKiB);
  EXPECT_EQ(*ParseByteSize("512M"), 512 * kMiB);
  EXPECT_EQ(*ParseByteSize("10G"), 10 * kGiB);
  EXPECT_EQ(*ParseByteSize("10gib"), 10 * kGiB);
  EXPECT_EQ(*ParseByteSize("1T"), 1024 * kGiB);
  EXPECT_EQ(*ParseByteSize("64MB"), 64 * kMiB);
  for (const char* bad : {"", "M", "-1", "1.5G", "10X", "99999999999999999999", "16777216T"}) {
    EXPECT_FALSE(ParseByteSize(bad).ok()) << bad;
  }
}

TEST(Units, ParseDuration) {
  EXPECT_EQ(*ParseDuration("90"), std::chrono::seconds(90));
  EXPECT_EQ(*ParseDuration("90s"), std::chrono::seconds(90));
  EXPECT_EQ(*ParseDuration("30m"), std::chrono::minutes(30));
  EXPECT_EQ(*ParseDuration("24h"), std::chrono::hours(24));
  EXPECT_EQ(*ParseDuration("7d"), std::chrono::hours(7 * 24));
  EXPECT_EQ(*ParseDuration("0"), std::chrono::seconds(0));
  for (std::string_view bad : {"", "s", "h", "-1h", "1.5h", "1w", "1 h", "h1", "99999999999999999999",
                               "9999999999999d"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

TEST(Units, ParseUintIsStrict) {
  std::uint64_t out = 0;
  EXPECT_TRUE(ParseUint("9223372036854775807", out));
  EXPECT_EQ(out, 9223372036854775807ull);
  for (const char* bad : {"", "-1", "+1", "1a", " 1", "9223372036854775808", "12345678901234567890"}) {
    EXPECT_FALSE(ParseUint(bad, out)) << bad;
  }
}

TEST(Units, FormatBytes) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(3 * kGiB), "3.0 GiB");
}

}  // namespace
}  // namespace ferry
