#include "bench/histogram.h"

#include <random>
#include <vector>
#include <algorithm>

#include <gtest/gtest.h>

namespace ferry::bench {
namespace {

TEST(Histogram, EveryValueFallsInABucketWhoseBoundIsWithinOnePercentAbove) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 100'000; ++i) {
    std::uint64_t value = random() >> (random() % 64);
    int bucket = Histogram::BucketOf(value);
    ASSERT_GE(bucket, 0);
    ASSERT_LT(bucket, Histogram::kBuckets);
    std::uint64_t bound = Histogram::UpperBound(bucket);
    ASSERT_GE(bound, value);
    ASSERT_LE(static_cast<double>(bound - value), static_cast<double>(value) / 128.0) << value;
    if (bucket > 0) {
      ASSERT_LT(Histogram::UpperBound(bucket - 1), value) << value;
    }
  }
  EXPECT_EQ(Histogram::BucketOf(UINT64_MAX), Histogram::kBuckets - 1);
  EXPECT_EQ(Histogram::UpperBound(Histogram::kBuckets - 1), UINT64_MAX);
}

TEST(Histogram, QuantilesMatchTheSortedValues) {
  std::mt19937_64 random(11);
  std::lognormal_distribution<double> latency(13.0, 1.0);  // around half a millisecond, in ns
  std::vector<std::uint64_t> values(50'000);
  Histogram first, second;
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<std::uint64_t>(latency(random));
    (i % 2 == 0 ? first : second).Record(values[i]);
  }
  first.Merge(second);
  std::sort(values.begin(), values.end());
  ASSERT_EQ(first.count(), values.size());
  EXPECT_EQ(first.min(), values.front());
  EXPECT_EQ(first.max(), values.back());
  for (double q : {0.5, 0.9, 0.99, 0.999, 1.0}) {
    std::uint64_t exact = values[static_cast<std::size_t>(std::ceil(q * values.size())) - 1];
    std::uint64_t reported = first.ValueAt(q);
    EXPECT_GE(reported, exact) << q;
    EXPECT_LE(static_cast<double>(reported), static_cast<double>(exact) * 1.008) << q;
  }
}

TEST(Histogram, EmptyReportsZeros) {
  Histogram empty;
  EXPECT_EQ(empty.ValueAt(0.99), 0u);
  EXPECT_EQ(empty.min(), 0u);
  EXPECT_EQ(empty.mean(), 0.0);
}

}  // namespace
}  // namespace ferry::bench
