// What a benchmark asks for, as pure functions: the operation mix ("get=90,put=10"), the key
// popularity (uniform, or Zipf with a given alpha, drawn by inverting the cumulative weights),
// and the file names of the benchmark's key space. The load runner (load.h) does the I/O.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ferry::bench {

enum class Op { kGet, kPut, kList };
std::string_view OpName(Op op);

// Weights of each operation; they need not add to 100.
struct Mix {
  unsigned get = 100;
  unsigned put = 0;
  unsigned list = 0;
  unsigned total() const { return get + put + list; }
  Op Pick(std::uint64_t draw) const;  // draw uniform in [0, total())
};
// "get=90,put=10", "get", "put=1,list=1". 400 for an unknown operation, a weight that is not
// a number below 1,000,000, or a mix whose weights are all 0.
Result<Mix> ParseMix(std::string_view text);

// Draws key indices in [0, keys): uniform when alpha == 0, else Zipf(alpha) with key 0 the most
// popular. Holds a table of `keys` doubles (80 MB for 10 million keys).
class KeyChooser {
 public:
  KeyChooser(std::uint64_t keys, double alpha);
  std::uint64_t Next(std::mt19937_64& random) const;
  std::uint64_t keys() const { return keys_; }

 private:
  std::uint64_t keys_;
  std::vector<double> cumulative_;  // empty: uniform
};

// The name of key `index` under `prefix`: "bench/000042" for prefix "bench/" (six digits at
// least, so a listing sorts in key order).
std::string KeyName(std::string_view prefix, std::uint64_t index);

}  // namespace ferry::bench
