#include "sim/trace.h"

#include <fstream>

#include <fmt/format.h>

#include "common/units.h"

namespace ferry::sim {

Status ParseTraceLine(std::string_view line, TraceLine& out) {
  std::size_t first = line.find(',');
  std::size_t last = line.rfind(',');
  if (first == std::string_view::npos || first == last) {
    return Status::BadRequest("want three fields: timestamp,name,size");
  }
  if (!ParseUint(line.substr(0, first), out.timestamp)) {
    return Status::BadRequest("timestamp is not a decimal number");
  }
  out.name = line.substr(first + 1, last - first - 1);
  if (out.name.empty()) return Status::BadRequest("empty name");
  if (out.name.find(',') != std::string_view::npos) {
    return Status::BadRequest("want three fields: timestamp,name,size");
  }
  if (!ParseUint(line.substr(last + 1), out.size) || out.size == 0) {
    return Status::BadRequest("size is not a positive decimal number");
  }
  return Status::Ok();
}

void TraceBuilder::Add(std::string_view name, std::uint64_t size) {
  std::string id(name);
  id.push_back('\0');
  id += std::to_string(size);
  auto [it, inserted] = keys_.try_emplace(std::move(id), static_cast<cache::Key>(keys_.size()));
  if (inserted) {
    trace_.object_sizes.push_back(size);
    trace_.unique_bytes += size;
  }
  trace_.requests.push_back({it->second, size});
  trace_.requested_bytes += size;
}

Result<Trace> LoadTrace(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("cannot open trace {}", path.string()));
  TraceBuilder builder;
  std::string line;
  TraceLine parsed;
  for (std::uint64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (Status s = ParseTraceLine(line, parsed); !s.ok()) {
      return Status::BadRequest(fmt::format("{}:{}: {}", path.string(), number, s.message()));
    }
    builder.Add(parsed.name, parsed.size);
  }
  return builder.Finish();
}

}  // namespace ferry::sim
