#include "sim/simulator.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace ferry::sim {
namespace {

Trace Sequence(const std::string& names, std::uint64_t size = 1) {
  TraceBuilder builder;
  for (char c : names) builder.Add(std::string(1, c), size);
  return builder.Finish();
}

TEST(Optimal, MatchesAHandComputedSequence) {
  // Capacity 2: a b (2 misses) c: evict the one needed furthest away (a at 5, b at 4): a goes.
  // b hits, a misses and evicts c (never again), b hits: 4 misses in 6.
  SimResult opt = SimulateOptimal(Sequence("abcbab"), 2, /*unit_size=*/true);
  EXPECT_EQ(opt.requests, 6u);
  EXPECT_EQ(opt.misses, 4u);
  // LRU on the same: a b c(evicts a) b a(evicts c) b: also 4 here; on "abcabc" LRU misses all.
  EXPECT_EQ(Simulate(Sequence("abcabc"), "lru", 2, true)->misses, 6u);
  EXPECT_EQ(SimulateOptimal(Sequence("abcabc"), 2, true).misses, 4u);
}

TEST(Optimal, NeverWorseThanAnyPolicyOnRandomTraces) {
  std::mt19937 random(3);
  TraceBuilder builder;
  for (int i = 0; i < 20000; ++i) {
    int key = static_cast<int>(random() % 300);
    builder.Add(std::to_string(key), 1);
  }
  Trace trace = builder.Finish();
  for (std::uint64_t capacity : {10u, 50u, 150u}) {
    SimResult opt = SimulateOptimal(trace, capacity, true);
    for (auto policy : {"lru", "fifo", "lfu", "sieve", "s3fifo"}) {
      auto result = Simulate(trace, policy, capacity, true);
      ASSERT_TRUE(result.ok());
      EXPECT_LE(opt.misses, result->misses) << policy << " at " << capacity;
    }
  }
}

TEST(Sampling, KeepsEveryRequestOfTheObjectsItSamples) {
  TraceBuilder builder;
  std::mt19937 random(5);
  for (int i = 0; i < 100000; ++i) builder.Add(std::to_string(random() % 5000), 1 + random() % 7);
  Trace trace = builder.Finish();
  EXPECT_EQ(SampleTrace(trace, 1.0).requests.size(), trace.requests.size());
  Trace half = SampleTrace(trace, 0.5);
  EXPECT_NEAR(static_cast<double>(half.unique_objects()) / trace.unique_objects(), 0.5, 0.05);
  // Per sampled object, as many requests as in the full trace.
  std::map<std::uint64_t, int> full_counts, sampled_counts;
  for (auto& r : trace.requests) ++full_counts[r.key];
  std::uint64_t requests_of_sampled = 0;
  for (auto& r : half.requests) ++sampled_counts[r.key];
  for (auto& [key, count] : sampled_counts) requests_of_sampled += count;
  EXPECT_EQ(requests_of_sampled, half.requests.size());
  EXPECT_NEAR(static_cast<double>(half.requests.size()) / trace.requests.size(), 0.5, 0.05);
}

TEST(Simulate, ObjectsLargerThanTheCacheAreNotAdmitted) {
  TraceBuilder builder;
  builder.Add("big", 100);
  builder.Add("big", 100);
  builder.Add("small", 10);
  builder.Add("small", 10);
  Trace trace = builder.Finish();
  auto result = Simulate(trace, "lru", 50, false);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->misses, 3u);
  EXPECT_EQ(result->missed_bytes, 210u);
  EXPECT_DOUBLE_EQ(result->byte_miss_ratio(), 210.0 / 220.0);
  EXPECT_EQ(SimulateOptimal(trace, 50, false).misses, 3u);
  EXPECT_EQ(Simulate(trace, "belady", 50, false).status().code(), Code::kBadRequest);
}

}  // namespace
}  // namespace ferry::sim
