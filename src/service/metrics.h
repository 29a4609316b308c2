// Request counters and latency histograms per door and command, for GET /metrics in the
// Prometheus text format. Lock-free: every event loop records into relaxed atomics, and a
// scrape reads them without stopping anyone (a scrape may see a request's count before its
// latency; Prometheus tolerates that).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/reply.h"

namespace ferry::service {

enum class Door { kNative, kHttp };
inline constexpr std::size_t kDoors = 2;

// The commands both doors share; HTTP's own (listing, metrics, health) have their names.
enum class Command { kList, kStat, kGet, kHead, kPut, kDelete, kStats, kMetrics, kHealth, kOther };
inline constexpr std::size_t kCommands = 10;

std::string_view DoorName(Door door);
std::string_view CommandName(Command command);

// Upper bounds of the latency buckets, in seconds (+Inf is implied).
inline constexpr std::array<double, 16> kLatencyBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   10,    60};

class RequestMetrics {
 public:
  // One finished request: its status (200...599) and how long it took, first byte in to
  // last byte out.
  void Record(Door door, Command command, int status, std::chrono::nanoseconds duration);
  void AddBytes(Door door, std::uint64_t received, std::uint64_t sent);
  void ConnectionOpened(Door door);
  void ConnectionClosed(Door door);
  // Refused at once: too many connections (--max-connections, --max-connections-per-ip).
  void ConnectionRefused(Door door);

  std::uint64_t requests(Door door, Command command) const;

  // The text exposition format (version 0.0.4): these metrics, then `store_stats` (STATS's
  // counters) as ferry_cache_*.
  std::string RenderPrometheus(const std::vector<protocol::StatValue>& store_stats) const;

 private:
  // Status classes 2xx, 3xx, 4xx, 5xx (anything else counts as 5xx).
  static constexpr std::size_t kClasses = 4;
  struct PerCommand {
    std::array<std::atomic<std::uint64_t>, kClasses> by_class{};
    std::array<std::atomic<std::uint64_t>, kLatencyBuckets.size() + 1> buckets{};
    std::atomic<std::uint64_t> nanos{0};
  };
  struct PerDoor {
    std::array<PerCommand, kCommands> commands;
    std::atomic<std::uint64_t> bytes_received{0};
    std::atomic<std::uint64_t> bytes_sent{0};
    std::atomic<std::int64_t> connections{0};
    std::atomic<std::uint64_t> connections_total{0};
    std::atomic<std::uint64_t> connections_refused{0};
  };
  std::array<PerDoor, kDoors> doors_;
};

}  // namespace ferry::service
