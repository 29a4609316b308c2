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
