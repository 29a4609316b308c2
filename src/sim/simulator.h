// Replays a Trace through an eviction policy (the server's own classes, via PolicyCache) or
// through Belady's optimal policy, and counts misses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "sim/trace.h"

namespace ferry::sim {

struct SimResult {
  std::string policy;
  std::uint64_t size_bytes = 0;  // the cache's capacity (objects, with unit_size)
  std::uint64_t requests = 0;
  std::uint64_t misses = 0;
  std::uint64_t bytes = 0;
  std::uint64_t missed_bytes = 0;
  double seconds = 0;  // time the replay took

  double miss_ratio() const { return requests == 0 ? 0 : double(misses) / double(requests); }
  double byte_miss_ratio() const { return bytes == 0 ? 0 : double(missed_bytes) / double(bytes); }
};

// With unit_size, every object counts as 1 and `capacity` is a number of objects.
// 400 for a policy name MakePolicy does not know.
Result<SimResult> Simulate(const Trace& trace, std::string_view policy, std::uint64_t capacity,
                           bool unit_size);

// Spatial sampling (SHARDS, Waldspurger et al., FAST 2015): the requests of the objects whose
// hashed key falls below `rate` (0 < rate <= 1), every request of a sampled object kept.
// Replaying it with a cache of size x rate estimates the whole trace's miss ratios at size x
// ("miniature simulation"), at a fraction of the cost and for any policy.
Trace SampleTrace(const Trace& trace, double rate);

// Belady's OPT: on a miss, evict the cached objects whose next request is furthest away until
// the new one fits; every object that fits in the cache is admitted. Optimal for unit sizes;
// for variable sizes this is the usual furthest-next-use heuristic (exact OPT is NP-hard).
SimResult SimulateOptimal(const Trace& trace, std::uint64_t capacity, bool unit_size);

}  // namespace ferry::sim
