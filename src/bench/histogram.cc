#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ferry::bench {

namespace {
constexpr std::uint64_t kSubBuckets = 1u << Histogram::kSubBucketBits;
}  // namespace

// Values below 2 * kSubBuckets have a bucket each; above, a value whose highest bit is k keeps
// its top kSubBucketBits + 1 bits: bucket = shift * kSubBuckets + (value >> shift), where
// shift = k - kSubBucketBits, and (value >> shift) is in [kSubBuckets, 2 * kSubBuckets).
int Histogram::BucketOf(std::uint64_t value) {
  int width = std::bit_width(value);
  if (width <= kSubBucketBits + 1) return static_cast<int>(value);
  int shift = width - (kSubBucketBits + 1);
  return static_cast<int>((static_cast<std::uint64_t>(shift) << kSubBucketBits) + (value >> shift));
}

std::uint64_t Histogram::UpperBound(int index) {
  auto i = static_cast<std::uint64_t>(index);
  if (i < 2 * kSubBuckets) return i;
  int shift = static_cast<int>(i >> kSubBucketBits) - 1;
  std::uint64_t mantissa = i - (static_cast<std::uint64_t>(shift) << kSubBucketBits);
  std::uint64_t low = mantissa << shift;
  return low + ((std::uint64_t{1} << shift) - 1);
}

void Histogram::Record(std::uint64_t value) {
  ++counts_[static_cast<std::size_t>(BucketOf(value))];
  ++count_;
  sum_ += value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::Merge(const Histogram& other) {
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

std::uint64_t Histogram::ValueAt(double quantile) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<std::uint64_t>(std::ceil(std::clamp(quantile, 0.0, 1.0) * static_cast<double>(count_)));
  rank = std::max<std::uint64_t>(rank, 1);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(UpperBound(static_cast<int>(i)), max_);
  }
  return max_;
}

}  // namespace ferry::bench
