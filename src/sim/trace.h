// Request traces for the simulator: "timestamp,name,size" CSV lines (docs/cache.md), the
// format ferryd --trace-out writes and ../shared/traces/ ships. Names become dense keys as the
// trace loads, so replays touch no strings. A name seen again with another size is a new
// object (the file was replaced).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache/policy.h"
#include "common/status.h"

namespace ferry::sim {

struct TraceLine {
  std::uint64_t timestamp = 0;
  std::string_view name;
  std::uint64_t size = 0;
};

// One CSV line (without its line ending). 400 with the reason on anything malformed: a field
// missing or extra, a number that is not decimal, a size of 0, an empty name.
Status ParseTraceLine(std::string_view line, TraceLine& out);

struct TraceRequest {
  cache::Key key;
  std::uint64_t size;
};

struct Trace {
  std::vector<TraceRequest> requests;
  std::vector<std::uint64_t> object_sizes;  // by key
  std::uint64_t unique_bytes = 0;
  std::uint64_t requested_bytes = 0;
  std::size_t unique_objects() const { return object_sizes.size(); }
};

// Builds a Trace line by line.
class TraceBuilder {
 public:
  void Add(std::string_view name, std::uint64_t size);
  Trace Finish() { return std::move(trace_); }

 private:
  Trace trace_;
  std::unordered_map<std::string, cache::Key> keys_;  // "name\0size" -> key
};

// Loads a CSV trace file; errors name the file and line.
Result<Trace> LoadTrace(const std::filesystem::path& path);

}  // namespace ferry::sim
