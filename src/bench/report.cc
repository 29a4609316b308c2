#include "bench/report.h"

#include <fmt/format.h>

namespace ferry::bench {

namespace {

double Rate(double count, double seconds) { return seconds > 0 ? count / seconds : 0; }
double Ms(std::uint64_t nanoseconds) { return static_cast<double>(nanoseconds) / 1e6; }

std::string MixText(const Mix& mix) {
  std::string text;
  for (auto [op, weight] : {std::pair{Op::kGet, mix.get}, {Op::kPut, mix.put}, {Op::kList, mix.list}}) {
    if (weight == 0) continue;
    text += fmt::format("{}{}={}", text.empty() ? "" : ",", OpName(op), weight);
  }
  return text;
}

constexpr std::pair<const char*, double> kQuantiles[] = {
    {"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p99.9", 0.999}};

}  // namespace

std::string FormatReport(const LoadOptions& o, const LoadReport& r) {
  double rps = Rate(static_cast<double>(r.requests), r.seconds);
  double mb_in = Rate(static_cast<double>(r.bytes_in), r.seconds) / 1e6;
  double mb_out = Rate(static_cast<double>(r.bytes_out), r.seconds) / 1e6;
  std::string text = fmt::format(
      "ferry bench: {} ({}), {} connection(s) on {} thread(s), pipeline {}, mix {}, {} key(s) {}{}\n",
      o.server, o.http ? "HTTP" : "native", o.connections, o.threads, o.pipeline, MixText(o.mix),
      o.names.empty() ? o.keys : o.names.size(), o.zipf > 0 ? fmt::format("Zipf({})", o.zipf) : "uniform",
      o.rate > 0 ? fmt::format(", paced at {:.0f} req/s", o.rate) : "");
  text += fmt::format("requests    {} in {:.2f} s = {:.0f} req/s (get {}, put {}, list {})\n", r.requests,
                      r.seconds, rps, r.by_op[0], r.by_op[1], r.by_op[2]);
  text += fmt::format("throughput  {:.1f} MB/s in, {:.1f} MB/s out\n", mb_in, mb_out);
  text += "latency    ";
  for (auto [label, q] : kQuantiles) text += fmt::format(" {} {:.3f} ms", label, Ms(r.latency.ValueAt(q)));
  text += fmt::format("  max {:.3f} ms\n", Ms(r.latency.max()));
  text += fmt::format("verified    {} replies, {} failed\n", r.verified, r.verify_failures);
  text += fmt::format("errors      {}\n", r.errors);
  for (const std::string& sample : r.error_samples) text += "  " + sample + "\n";
  text += fmt::format("rps={:.0f} MBps={:.1f} p50_ms={:.3f} p99_ms={:.3f} errors={}\n", rps, mb_in + mb_out,
                      Ms(r.latency.ValueAt(0.5)), Ms(r.latency.ValueAt(0.99)), r.errors);
  return text;
}

nlohmann::json ReportJson(const LoadOptions& o, const LoadReport& r) {
  nlohmann::json latency = {{"mean", Ms(static_cast<std::uint64_t>(r.latency.mean()))},
                            {"min", Ms(r.latency.min())},
                            {"max", Ms(r.latency.max())}};
  for (auto [label, q] : kQuantiles) latency[label] = Ms(r.latency.ValueAt(q));
  return {
      {"server", o.server},
      {"protocol", o.http ? "http" : "native"},
      {"connections", o.connections},
      {"threads", o.threads},
      {"pipeline", o.pipeline},
      {"mix", MixText(o.mix)},
      {"keys", o.names.empty() ? o.keys : o.names.size()},
      {"zipf", o.zipf},
      {"rate", o.rate},
      {"requests", r.requests},
      {"by_op", {{"get", r.by_op[0]}, {"put", r.by_op[1]}, {"list", r.by_op[2]}}},
      {"seconds", r.seconds},
      {"requests_per_second", Rate(static_cast<double>(r.requests), r.seconds)},
      {"bytes_in", r.bytes_in},
      {"bytes_out", r.bytes_out},
      {"mb_per_second", Rate(static_cast<double>(r.bytes_in + r.bytes_out), r.seconds) / 1e6},
      {"latency_ms", latency},
      {"verified", r.verified},
      {"verify_failures", r.verify_failures},
      {"errors", r.errors},
      {"error_samples", r.error_samples},
  };
}

}  // namespace ferry::bench
