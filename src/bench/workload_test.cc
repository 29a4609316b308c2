#include "bench/workload.h"

#include <vector>

#include <gtest/gtest.h>

namespace ferry::bench {
namespace {

TEST(Mix, ParsesWeightsAndPicksInProportion) {
  Result<Mix> mix = ParseMix("get=90,put=9,list=1");
  ASSERT_TRUE(mix.ok()) << mix.status().ToString();
  EXPECT_EQ(mix->total(), 100u);
  EXPECT_EQ(mix->Pick(0), Op::kGet);
  EXPECT_EQ(mix->Pick(89), Op::kGet);
  EXPECT_EQ(mix->Pick(90), Op::kPut);
  EXPECT_EQ(mix->Pick(98), Op::kPut);
  EXPECT_EQ(mix->Pick(99), Op::kList);
  Result<Mix> bare = ParseMix("put");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->put, 1u);
  EXPECT_EQ(bare->get, 0u);
}

TEST(Mix, RefusesWhatItCannotRun) {
  for (const char* bad : {"", "get=0", "fetch=1", "get=x", "get=1000000", "get=-1", "get=1,,"}) {
    Result<Mix> mix = ParseMix(bad);
    EXPECT_FALSE(mix.ok()) << bad;
    if (!mix.ok()) {
      EXPECT_EQ(mix.status().code(), Code::kBadRequest) << bad;
    }
  }
}

TEST(KeyChooser, ZipfFavoursTheFirstKeysAsTheLawSays) {
  KeyChooser chooser(1000, 1.0);
  std::mt19937_64 random(3);
  std::vector<int> seen(1000);
  constexpr int kDraws = 200'000;
  for (int i = 0; i < kDraws; ++i) ++seen[chooser.Next(random)];
  // Zipf(1): key 1 is drawn twice as often as key 2; key 0's share is 1/H(1000) = 13.4%.
  EXPECT_NEAR(static_cast<double>(seen[0]) / kDraws, 0.1336, 0.005);
  EXPECT_NEAR(static_cast<double>(seen[0]) / seen[1], 2.0, 0.1);
}

TEST(KeyChooser, UniformSpreadsEvenlyAndStaysInRange) {
  KeyChooser chooser(10, 0);
  std::mt19937_64 random(5);
  std::vector<int> seen(10);
  for (int i = 0; i < 100'000; ++i) {
    std::uint64_t key = chooser.Next(random);
    ASSERT_LT(key, 10u);
    ++seen[key];
  }
  for (int count : seen) EXPECT_NEAR(count, 10'000, 500);
}

TEST(KeyName, SortsInKeyOrder) {
  EXPECT_EQ(KeyName("bench/", 42), "bench/000042");
  EXPECT_LT(KeyName("b/", 9), KeyName("b/", 10));
  EXPECT_EQ(KeyName("", 1234567), "1234567");
}

}  // namespace
}  // namespace ferry::bench
