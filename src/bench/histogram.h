// Latency histogram in the spirit of HdrHistogram: log-linear buckets (128 per power of two,
// so any recorded value is reported within 0.8% of itself), fixed memory (7,424 counters),
// O(1) recording, and mergeable, so each load thread keeps its own and the report adds them.
// Pure; not thread-safe.
#pragma once

#include <array>
#include <cstdint>

namespace ferry::bench {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr int kBuckets = (64 - kSubBucketBits) * (1 << kSubBucketBits) + (1 << kSubBucketBits);

  void Record(std::uint64_t value);
  void Merge(const Histogram& other);

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / static_cast<double>(count_); }
  // The smallest value v such that at least `quantile` (0..1] of the recorded values are <= v,
  // as the upper bound of v's bucket (never below the true value, at most 0.8% above it),
  // capped at max(). 0 when empty.
  std::uint64_t ValueAt(double quantile) const;

  // The bucket of `value`, and the largest value in bucket `index`. Public for the tests.
  static int BucketOf(std::uint64_t value);
  static std::uint64_t UpperBound(int index);

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

}  // namespace ferry::bench
