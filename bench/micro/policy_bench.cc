// Access path of every eviction policy and of the simulator's replay loop: requests per
// second over a Zipf(0.9)-distributed stream of 1,000,000 requests to 100,000 keys, unit
// sizes, with a cache of 10% of the keys. `make bench` runs it.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "cache/policy.h"
#include "cache/policy_cache.h"

namespace {

using ferry::cache::Key;

const std::vector<Key>& ZipfStream() {
  static const std::vector<Key> stream = [] {
    constexpr std::size_t kKeys = 100'000, kRequests = 1'000'000;
    std::vector<double> cumulative(kKeys);
    double total = 0;
    for (std::size_t i = 0; i < kKeys; ++i) cumulative[i] = total += 1.0 / std::pow(i + 1, 0.9);
    std::mt19937_64 random(1);
    std::uniform_real_distribution<double> uniform(0, total);
    std::vector<Key> keys(kRequests);
    for (Key& key : keys) {
      key = static_cast<Key>(std::lower_bound(cumulative.begin(), cumulative.end(), uniform(random)) -
                             cumulative.begin());
    }
    return keys;
  }();
  return stream;
}

void BM_Policy(benchmark::State& state, std::string_view policy) {
  const std::vector<Key>& stream = ZipfStream();
  std::uint64_t hits = 0;
  for (auto _ : state) {
    ferry::cache::PolicyCache cache(ferry::cache::MakePolicy(policy, {.capacity_bytes = 10'000}),
                                    10'000);
    for (Key key : stream) hits += cache.Access(key, 1) ? 1 : 0;
  }
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
}

BENCHMARK_CAPTURE(BM_Policy, lru, "lru")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Policy, fifo, "fifo")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Policy, lfu, "lfu")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Policy, sieve, "sieve")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Policy, s3fifo, "s3fifo")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Policy, wtinylfu, "wtinylfu")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
