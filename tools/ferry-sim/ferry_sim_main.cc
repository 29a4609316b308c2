// ferry-sim: replays a request trace through ferryd's own eviction policies and Belady's OPT.
//   ferry-sim --trace FILE [--policy lru,s3fifo,opt] [--size 1%,5%,64M] [--unit-size] [--json]
#include <cmath>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cache/policy.h"
#include "common/units.h"
#include "sim/simulator.h"

namespace {

using ferry::Result;
using ferry::Status;

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

// "5%" of `unique` (floor), or a byte size ("64M", "4096").
Result<std::uint64_t> ParseCacheSize(const std::string& text, std::uint64_t unique) {
  if (!text.empty() && text.back() == '%') {
    double percent = 0;
    try {
      std::size_t used = 0;
      percent = std::stod(text.substr(0, text.size() - 1), &used);
      if (used != text.size() - 1) throw std::invalid_argument(text);
    } catch (const std::exception&) {
      return Status::BadRequest(fmt::format("not a percentage: '{}'", text));
    }
    if (!(percent > 0 && percent <= 100)) {
      return Status::BadRequest(fmt::format("percentage out of (0, 100]: '{}'", text));
    }
    return static_cast<std::uint64_t>(std::floor(static_cast<long double>(unique) * percent / 100));
  }
  return ferry::ParseByteSize(text);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferry-sim: replay a request trace through ferryd's cache policies and OPT",
               "ferry-sim"};
  std::string trace_path, policies_text, sizes_text = "1%,5%,10%";
  bool unit_size = false, json = false, curve = false;
  double sample_rate = 0;
  app.add_option("--trace", trace_path, "CSV trace: timestamp,name,size per line")->required();
  app.add_option("--policy", policies_text,
                 fmt::format("comma-separated: {}, opt (default: the server's default, {})",
                             fmt::join(ferry::cache::PolicyNames(), ", "),
                             ferry::cache::PolicyNames()[0]));
  app.add_option("--size", sizes_text,
                 "comma-separated cache sizes: N% of the trace's unique bytes (of its unique "
                 "objects with --unit-size), or bytes such as 64M")
      ->capture_default_str();
  app.add_flag("--unit-size", unit_size, "count every object as 1 (sizes are object counts)");
  app.add_flag("--json", json, "print one JSON array");
  app.add_flag("--curve", curve,
               "miss ratio curve: 20 cache sizes from 0.1% to 100% of the unique bytes (replaces "
               "--size), estimated on a spatial sample of the trace (SHARDS)");
  app.add_option("--sample-rate", sample_rate,
                 "fraction of objects the curve samples (default: all up to 1M requests, else "
                 "about 1M requests' worth)")
      ->check(CLI::Range(0.0001, 1.0));
  app.footer("Exit codes: 0 success, 1 the trace could not be read, 2 usage error.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }

  std::vector<std::string> policies = SplitCommas(policies_text);
  if (policies.empty()) policies.emplace_back(ferry::cache::PolicyNames()[0]);
  for (const std::string& policy : policies) {
    if (policy != "opt" && !ferry::cache::MakePolicy(policy, {})) {
      std::cerr << "ferry-sim: unknown policy '" << policy << "'\n";
      return 2;
    }
  }
  auto trace = ferry::sim::LoadTrace(trace_path);
  if (!trace.ok()) {
    std::cerr << "ferry-sim: " << trace.status().message() << "\n";
    return 1;
  }
  std::uint64_t unique = unit_size ? trace->unique_objects() : trace->unique_bytes;
  std::vector<std::pair<std::string, std::uint64_t>> sizes;
  if (curve) {
    sizes_text.clear();
    for (int i = 0; i < 20; ++i) {  // 0.1% to 100%, evenly on a log scale
      double percent = 0.1 * std::pow(1000.0, i / 19.0);
      sizes_text += fmt::format("{:.3g}%,", percent);
    }
    if (sample_rate == 0) {
      sample_rate = std::min(1.0, 1e6 / static_cast<double>(std::max<std::size_t>(1, trace->requests.size())));
    }
  }
  for (const std::string& text : SplitCommas(sizes_text)) {
    auto size = ParseCacheSize(text, unique);
    if (!size.ok()) {
      std::cerr << "ferry-sim: " << size.status().message() << "\n";
      return 2;
    }
    sizes.emplace_back(text, *size);
  }

  // The curve replays a sample with proportionally smaller caches (SHARDS).
  double rate = curve ? sample_rate : 1.0;
  ferry::sim::Trace sampled = rate < 1.0 ? ferry::sim::SampleTrace(*trace, rate) : ferry::sim::Trace{};
  const ferry::sim::Trace& replayed = rate < 1.0 ? sampled : *trace;
  nlohmann::json results = nlohmann::json::array();
  if (!json) {
    std::cout << fmt::format("trace {}: {} requests, {} objects, {} unique bytes{}\n", trace_path,
                             trace->requests.size(), trace->unique_objects(), trace->unique_bytes,
                             unit_size ? " (unit size)" : "");
    if (rate < 1.0) {
      std::cout << fmt::format("sampled at rate {:.4g}: {} requests, {} objects\n", rate,
                               replayed.requests.size(), replayed.unique_objects());
    }
    std::cout << fmt::format("{:<8} {:>14} {:>7} {:>10} {:>10} {:>12}\n", "policy", "cache size",
                             "", "miss", "byte miss", "Mreq/s");
  }
  for (const auto& [label, capacity] : sizes) {
    for (const std::string& policy : policies) {
      auto scaled = static_cast<std::uint64_t>(std::floor(static_cast<double>(capacity) * rate));
      ferry::sim::SimResult result =
          policy == "opt" ? ferry::sim::SimulateOptimal(replayed, scaled, unit_size)
                          : *ferry::sim::Simulate(replayed, policy, scaled, unit_size);
      result.size_bytes = capacity;
      if (json) {
        results.push_back({{"policy", result.policy}, {"size_bytes", result.size_bytes},
                           {"size", label}, {"requests", result.requests},
                           {"sample_rate", rate},
                           {"miss_ratio", result.miss_ratio()},
                           {"byte_miss_ratio", result.byte_miss_ratio()}});
      } else {
        std::cout << fmt::format("{:<8} {:>14} {:>7} {:>10.4f} {:>10.4f} {:>12.1f}\n",
                                 result.policy, result.size_bytes, label, result.miss_ratio(),
                                 result.byte_miss_ratio(),
                                 result.seconds > 0 ? result.requests / result.seconds / 1e6 : 0);
      }
    }
  }
  if (json) std::cout << results.dump(1) << "\n";
  return 0;
}
