// The per-request pure work of the native protocol: framing and parsing a request line, checking
// a name, encoding a GET's reply head. Requests (or names) per second. `make bench` runs it.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "common/object_name.h"
#include "protocol/line_reader.h"
#include "protocol/reply.h"
#include "protocol/request.h"

namespace {

using namespace ferry;

void BM_ParseGet(benchmark::State& state) {
  const std::string line = "GET photos/2024/summer/IMG_0042.jpg 0 65536";
  for (auto _ : state) {
    protocol::ParsedLine parsed = protocol::ParseRequest(line);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseGet);

void BM_ParsePutWithChecksum(benchmark::State& state) {
  const std::string line =
      "PUT backups/db%20dump.sql.gz 1073741824 xxh128:99aa06d3014798d86001c324468d497f resume";
  for (auto _ : state) {
    protocol::ParsedLine parsed = protocol::ParseRequest(line);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParsePutWithChecksum);

// 64 pipelined GET lines framed from one read, as a session does (with its first allocation).
void BM_FramePipelinedLines(benchmark::State& state) {
  std::string input;
  for (int i = 0; i < 64; ++i) input += "GET bench/" + std::to_string(100000 + i) + "\r\n";
  for (auto _ : state) {
    protocol::LineReader reader;
    std::span<char> space = reader.WritableSpace();
    std::memcpy(space.data(), input.data(), input.size());
    reader.Commit(input.size());
    std::size_t lines = 0;
    while (reader.Next().kind == protocol::LineReader::Kind::kLine) ++lines;
    benchmark::DoNotOptimize(lines);
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_FramePipelinedLines);

void BM_ValidateName(benchmark::State& state) {
  const std::string wire = "photos/2024/%C3%A9t%C3%A9/IMG_0042%20copy.jpg";
  for (auto _ : state) {
    Result<ObjectName> name = ObjectName::FromWire(wire);
    benchmark::DoNotOptimize(name);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidateName);

void BM_EncodeGetHead(benchmark::State& state) {
  protocol::GetHead head{4096, 4096, *Checksum::Parse("xxh128:99aa06d3014798d86001c324468d497f")};
  for (auto _ : state) {
    std::string line = protocol::EncodeGetHead(head);
    benchmark::DoNotOptimize(line);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeGetHead);

}  // namespace

BENCHMARK_MAIN();
