#include "cache/policy.h"

#include <array>

#include "cache/policies.h"

namespace ferry::cache {

namespace {
constexpr std::array<std::string_view, 6> kNames = {"s3fifo", "wtinylfu", "lru", "lfu", "sieve",
                                                    "fifo"};
}  // namespace

std::span<const std::string_view> PolicyNames() { return kNames; }

std::unique_ptr<EvictionPolicy> MakePolicy(std::string_view name, const PolicyOptions& options) {
  if (name == "lru") return MakeLru();
  if (name == "fifo") return MakeFifo();
  if (name == "lfu") return MakeLfu();
  if (name == "sieve") return MakeSieve();
  if (name == "s3fifo") return MakeS3Fifo(options.capacity_bytes);
  if (name == "wtinylfu") return MakeWTinyLfu(options.capacity_bytes);
  return nullptr;
}

}  // namespace ferry::cache
