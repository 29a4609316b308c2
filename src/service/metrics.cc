#include "service/metrics.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace ferry::service {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;
constexpr std::array<std::string_view, 4> kClassNames = {"2xx", "3xx", "4xx", "5xx"};
constexpr std::array<Door, kDoors> kAllDoors = {Door::kNative, Door::kHttp};

std::size_t ClassOf(int status) {
  if (status >= 200 && status < 500) return static_cast<std::size_t>(status / 100 - 2);
  return 3;
}

// STATS values that are levels, not running totals.
bool IsGauge(std::string_view stat) {
  static const std::set<std::string_view> kGauges = {"hit_ratio", "bytes_cached", "files_cached",
                                                     "fills_in_flight", "cache_max_bytes",
                                                     "memory_bytes", "memory_files",
                                                     "store_known_names"};
  return kGauges.contains(stat);
}

}  // namespace

std::string_view DoorName(Door door) { return door == Door::kNative ? "native" : "http"; }

std::string_view CommandName(Command command) {
  static constexpr std::array<std::string_view, kCommands> kNames = {
      "list", "stat", "get", "head", "put", "delete", "stats", "metrics", "health", "other"};
  return kNames[static_cast<std::size_t>(command)];
}

void RequestMetrics::Record(Door door, Command command, int status,
                            std::chrono::nanoseconds duration) {
  PerCommand& c = doors_[static_cast<std::size_t>(door)].commands[static_cast<std::size_t>(command)];
  c.by_class[ClassOf(status)].fetch_add(1, kRelaxed);
  double seconds = std::chrono::duration<double>(duration).count();
  auto bucket = std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), seconds);
  c.buckets[static_cast<std::size_t>(bucket - kLatencyBuckets.begin())].fetch_add(1, kRelaxed);
  c.nanos.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0)),
                    kRelaxed);
}

void RequestMetrics::AddBytes(Door door, std::uint64_t received, std::uint64_t sent) {
  PerDoor& d = doors_[static_cast<std::size_t>(door)];
  d.bytes_received.fetch_add(received, kRelaxed);
  d.bytes_sent.fetch_add(sent, kRelaxed);
}

void RequestMetrics::ConnectionOpened(Door door) {
  PerDoor& d = doors_[static_cast<std::size_t>(door)];
  d.connections.fetch_add(1, kRelaxed);
  d.connections_total.fetch_add(1, kRelaxed);
}

void RequestMetrics::ConnectionClosed(Door door) {
  doors_[static_cast<std::size_t>(door)].connections.fetch_sub(1, kRelaxed);
}

void RequestMetrics::ConnectionRefused(Door door) {
  doors_[static_cast<std::size_t>(door)].connections_refused.fetch_add(1, kRelaxed);
}

std::uint64_t RequestMetrics::requests(Door door, Command command) const {
  const PerCommand& c =
      doors_[static_cast<std::size_t>(door)].commands[static_cast<std::size_t>(command)];
  std::uint64_t total = 0;
  for (const auto& n : c.by_class) total += n.load(kRelaxed);
  return total;
}

std::string RequestMetrics::RenderPrometheus(
    const std::vector<protocol::StatValue>& store_stats) const {
  std::string out;
  auto header = [&out](std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  // Only commands a door has seen are listed: a scrape stays short, and a series appears
  // with its first request.
  auto seen = [this](Door door, std::size_t command) {
    return requests(door, static_cast<Command>(command)) > 0;
  };

  header("ferry_requests_total", "counter", "Requests answered, by door, command and status class.");
  for (Door door : kAllDoors) {
    const PerDoor& d = doors_[static_cast<std::size_t>(door)];
    for (std::size_t i = 0; i < kCommands; ++i) {
      if (!seen(door, i)) continue;
      for (std::size_t k = 0; k < kClasses; ++k) {
        fmt::format_to(std::back_inserter(out),
                       "ferry_requests_total{{door=\"{}\",command=\"{}\",status=\"{}\"}} {}\n",
                       DoorName(door), CommandName(static_cast<Command>(i)), kClassNames[k],
                       d.commands[i].by_class[k].load(kRelaxed));
      }
    }
  }
  header("ferry_request_duration_seconds", "histogram",
         "Time from a request's first byte to its reply's last byte.");
  for (Door door : kAllDoors) {
    const PerDoor& d = doors_[static_cast<std::size_t>(door)];
    for (std::size_t i = 0; i < kCommands; ++i) {
      if (!seen(door, i)) continue;
      const PerCommand& c = d.commands[i];
      std::string labels = fmt::format("door=\"{}\",command=\"{}\"", DoorName(door),
                                       CommandName(static_cast<Command>(i)));
      std::uint64_t cumulative = 0;
      for (std::size_t b = 0; b <= kLatencyBuckets.size(); ++b) {
        cumulative += c.buckets[b].load(kRelaxed);
        std::string le = b < kLatencyBuckets.size() ? fmt::format("{}", kLatencyBuckets[b]) : "+Inf";
        fmt::format_to(std::back_inserter(out), "ferry_request_duration_seconds_bucket{{{},le=\"{}\"}} {}\n",
                       labels, le, cumulative);
      }
      fmt::format_to(std::back_inserter(out), "ferry_request_duration_seconds_sum{{{}}} {:.9f}\n",
                     labels, static_cast<double>(c.nanos.load(kRelaxed)) / 1e9);
      fmt::format_to(std::back_inserter(out), "ferry_request_duration_seconds_count{{{}}} {}\n",
                     labels, cumulative);
    }
  }
  auto per_door = [&](std::string_view name, std::string_view type, std::string_view help,
                      auto value) {
    header(name, type, help);
    for (Door door : kAllDoors) {
      fmt::format_to(std::back_inserter(out), "{}{{door=\"{}\"}} {}\n", name, DoorName(door),
                     value(doors_[static_cast<std::size_t>(door)]));
    }
  };
  per_door("ferry_received_bytes_total", "counter", "Body bytes received (uploads).",
           [](const PerDoor& d) { return d.bytes_received.load(kRelaxed); });
  per_door("ferry_sent_bytes_total", "counter", "Body bytes sent (downloads).",
           [](const PerDoor& d) { return d.bytes_sent.load(kRelaxed); });
  per_door("ferry_connections", "gauge", "Connections open now.",
           [](const PerDoor& d) { return d.connections.load(kRelaxed); });
  per_door("ferry_connections_total", "counter", "Connections accepted.",
           [](const PerDoor& d) { return d.connections_total.load(kRelaxed); });
  per_door("ferry_connections_refused_total", "counter",
           "Connections refused at once: too many open, in all or from one address.",
           [](const PerDoor& d) { return d.connections_refused.load(kRelaxed); });

  for (const protocol::StatValue& stat : store_stats) {
    bool gauge = IsGauge(stat.name);
    std::string_view base = stat.name;
    if (base.starts_with("cache_")) base.remove_prefix(6);  // cache_max_bytes: no ferry_cache_cache_
    // The data store's own counters (an S3 store's requests): ferry_store_get_requests_total.
    // (store_bytes_read is the cache's: bytes it read from the store.)
    bool store_traffic = base.starts_with("store_") && base != "store_bytes_read";
    std::string_view family = store_traffic ? "ferry_" : "ferry_cache_";
    std::string name = fmt::format("{}{}{}", family, base, gauge ? "" : "_total");
    header(name, gauge ? "gauge" : "counter", fmt::format("STATS {} (docs/cache.md).", stat.name));
    fmt::format_to(std::back_inserter(out), "{} {}\n", name, stat.value);
  }
  return out;
}

}  // namespace ferry::service
