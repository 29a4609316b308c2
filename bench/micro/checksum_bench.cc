// End-to-end checksums in bytes per second (Google Benchmark prints GB/s): xxh128, the default
// every transfer is verified with, and sha256, for users who ask for it. `make bench` runs it.
#include <benchmark/benchmark.h>

#include <string>

#include "common/checksum.h"

namespace {

void BM_Checksum(benchmark::State& state, ferry::ChecksumAlgo algo) {
  const std::string block(static_cast<std::size_t>(state.range(0)), '\x5a');
  for (auto _ : state) {
    ferry::Hasher hasher(algo);
    hasher.Update(block);
    ferry::Checksum sum = hasher.Finish();
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK_CAPTURE(BM_Checksum, xxh128, ferry::ChecksumAlgo::kXxh128)->Arg(4096)->Arg(1 << 20);
BENCHMARK_CAPTURE(BM_Checksum, sha256, ferry::ChecksumAlgo::kSha256)->Arg(4096)->Arg(1 << 20);

}  // namespace

BENCHMARK_MAIN();
