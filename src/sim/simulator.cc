#include "sim/simulator.h"

#include <chrono>
#include <limits>
#include <queue>
#include <vector>

#include <fmt/format.h>

#include "cache/policy_cache.h"

namespace ferry::sim {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Count(SimResult& result, bool hit, std::uint64_t size) {
  ++result.requests;
  result.bytes += size;
  if (!hit) {
    ++result.misses;
    result.missed_bytes += size;
  }
}

}  // namespace

Result<SimResult> Simulate(const Trace& trace, std::string_view policy, std::uint64_t capacity,
                           bool unit_size) {
  auto made = cache::MakePolicy(policy, {.capacity_bytes = capacity});
  if (!made) return Status::BadRequest(fmt::format("unknown policy '{}'", policy));
  cache::PolicyCache cache(std::move(made), capacity);
  SimResult result{std::string(policy), capacity};
  auto start = Clock::now();
  for (const TraceRequest& request : trace.requests) {
    std::uint64_t size = unit_size ? 1 : request.size;
    Count(result, cache.Access(request.key, size), size);
  }
  result.seconds = SecondsSince(start);
  return result;
}

Trace SampleTrace(const Trace& trace, double rate) {
  if (rate >= 1.0) return trace;
  // splitmix64 of the key: sampled objects are spread evenly over the key space.
  auto hash = [](std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  };
  const auto threshold = static_cast<std::uint64_t>(rate * 18446744073709551615.0);
  TraceBuilder builder;
  for (const TraceRequest& request : trace.requests) {
    if (hash(request.key) <= threshold) builder.Add(std::to_string(request.key), request.size);
  }
  return builder.Finish();
}

SimResult SimulateOptimal(const Trace& trace, std::uint64_t capacity, bool unit_size) {
  constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();
  SimResult result{"opt", capacity};
  auto start = Clock::now();
  const auto& requests = trace.requests;
  // next_use[i]: the index of the next request for the same object.
  std::vector<std::uint64_t> next_use(requests.size());
  std::vector<std::uint64_t> seen(trace.unique_objects(), kNever);
  for (std::size_t i = requests.size(); i-- > 0;) {
    next_use[i] = seen[requests[i].key];
    seen[requests[i].key] = i;
  }
  // Cached objects by next use, furthest first. Entries go stale when an object is requested
  // again (a fresh entry is pushed) or evicted; stale ones are skipped when they surface.
  std::priority_queue<std::pair<std::uint64_t, cache::Key>> by_next_use;
  std::vector<std::uint64_t> current(trace.unique_objects(), kNever);  // its live next use
  std::vector<bool> cached(trace.unique_objects(), false);
  std::uint64_t used = 0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    cache::Key key = requests[i].key;
    std::uint64_t size = unit_size ? 1 : requests[i].size;
    bool hit = cached[key];
    Count(result, hit, size);
    if (!hit) {
      if (size > capacity) continue;
      while (used + size > capacity) {
        auto [when, victim] = by_next_use.top();
        by_next_use.pop();
        if (!cached[victim] || current[victim] != when) continue;  // stale
        cached[victim] = false;
        used -= unit_size ? 1 : trace.object_sizes[victim];
      }
      cached[key] = true;
      used += size;
    }
    current[key] = next_use[i];
    by_next_use.push({next_use[i], key});
  }
  result.seconds = SecondsSince(start);
  return result;
}

}  // namespace ferry::sim
