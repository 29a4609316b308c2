// What every fuzz target shares: FUZZ_CHECK, which stops the run on a broken invariant in any
// build (asserts vanish under NDEBUG, and the replay ctest runs in the release preset), and
// FuzzInput, which cuts one input into the values a target needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

// Aborts with the failed condition and its place; libFuzzer then saves the input as a crash.
#define FUZZ_CHECK(condition)                                                                \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

namespace ferry::fuzz {

// The fuzzer's bytes, read front to back. Values past the end are zero or empty, so every
// input means something and a shorter input means a simpler case.
class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return rest_.empty(); }
  std::string_view rest() const { return rest_; }

  std::uint8_t Byte() {
    if (rest_.empty()) return 0;
    auto byte = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return byte;
  }

  // Eight bytes, little-endian (fewer if the input ends).
  std::uint64_t Uint64() {
    std::uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value |= std::uint64_t{Byte()} << (8 * i);
    return value;
  }

  // The bytes up to the next '\n' (dropped), or all the rest: inputs stay readable as text,
  // one field a line, which suits the seed corpus and the dictionaries.
  std::string_view Line() {
    std::size_t end = rest_.find('\n');
    std::string_view line = rest_.substr(0, end);
    rest_.remove_prefix(end == std::string_view::npos ? rest_.size() : end + 1);
    return line;
  }

 private:
  std::string_view rest_;
};

}  // namespace ferry::fuzz
