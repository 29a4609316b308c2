#include "service/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>

namespace ferry::service {
namespace {

using namespace std::chrono_literals;

// Sample lines of the exposition format, "name{labels}" -> value; comments checked for shape.
std::map<std::string, std::string> ParseExposition(const std::string& text) {
  static const std::regex kSample(R"(^([a-z_]+(\{[^}]*\})?) (\S+)$)");
  static const std::regex kComment(R"(^# (HELP|TYPE) [a-z_]+ .+$)");
  std::map<std::string, std::string> samples;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch match;
    if (line.starts_with("#")) {
      EXPECT_TRUE(std::regex_match(line, kComment)) << line;
    } else if (std::regex_match(line, match, kSample)) {
      EXPECT_FALSE(samples.contains(match[1])) << "duplicate series " << line;
      samples[match[1]] = match[3];
    } else {
      ADD_FAILURE() << "not an exposition line: '" << line << "'";
    }
  }
  return samples;
}

TEST(RequestMetricsTest, CountsByDoorCommandAndClass) {
  RequestMetrics metrics;
  metrics.Record(Door::kHttp, Command::kGet, 200, 300us);
  metrics.Record(Door::kHttp, Command::kGet, 206, 2ms);
  metrics.Record(Door::kHttp, Command::kGet, 404, 50us);
  metrics.Record(Door::kNative, Command::kPut, 507, 5s);
  metrics.AddBytes(Door::kHttp, 10, 1000);
  metrics.ConnectionOpened(Door::kHttp);
  metrics.ConnectionOpened(Door::kHttp);
  metrics.ConnectionClosed(Door::kHttp);
  auto samples = ParseExposition(metrics.RenderPrometheus({{"hits", "7"}, {"hit_ratio", "0.5000"},
                                                           {"cache_max_bytes", "1024"},
                                                           {"store_bytes_read", "9"},
                                                           {"store_get_requests", "3"},
                                                           {"store_known_names", "2"}}));

  EXPECT_EQ(samples[R"(ferry_requests_total{door="http",command="get",status="2xx"})"], "2");
  EXPECT_EQ(samples[R"(ferry_requests_total{door="http",command="get",status="4xx"})"], "1");
  EXPECT_EQ(samples[R"(ferry_requests_total{door="native",command="put",status="5xx"})"], "1");
  EXPECT_FALSE(samples.contains(R"(ferry_requests_total{door="native",command="get",status="2xx"})"))
      << "a command never seen has no series";
  EXPECT_EQ(metrics.requests(Door::kHttp, Command::kGet), 3u);

  // Cumulative buckets: 50us and 300us are <= 0.0005, 2ms <= 0.0025; count = +Inf bucket.
  const std::string get = R"(door="http",command="get")";
  EXPECT_EQ(samples["ferry_request_duration_seconds_bucket{" + get + R"(,le="0.0001"})"], "1");
  EXPECT_EQ(samples["ferry_request_duration_seconds_bucket{" + get + R"(,le="0.0005"})"], "2");
  EXPECT_EQ(samples["ferry_request_duration_seconds_bucket{" + get + R"(,le="0.0025"})"], "3");
  EXPECT_EQ(samples["ferry_request_duration_seconds_bucket{" + get + R"(,le="+Inf"})"], "3");
  EXPECT_EQ(samples["ferry_request_duration_seconds_count{" + get + "}"], "3");
  EXPECT_NEAR(std::stod(samples["ferry_request_duration_seconds_sum{" + get + "}"]), 0.00235, 1e-9);
  const std::string put = R"(door="native",command="put")";
  EXPECT_EQ(samples["ferry_request_duration_seconds_bucket{" + put + R"(,le="1"})"], "0");
  EXPECT_EQ(samples["ferry_request_duration_seconds_bucket{" + put + R"(,le="10"})"], "1");

  EXPECT_EQ(samples[R"(ferry_sent_bytes_total{door="http"})"], "1000");
  EXPECT_EQ(samples[R"(ferry_received_bytes_total{door="http"})"], "10");
  EXPECT_EQ(samples[R"(ferry_connections{door="http"})"], "1");
  EXPECT_EQ(samples[R"(ferry_connections_total{door="http"})"], "2");
  EXPECT_EQ(samples["ferry_cache_hits_total"], "7");
  EXPECT_EQ(samples["ferry_cache_hit_ratio"], "0.5000");
  EXPECT_EQ(samples["ferry_cache_max_bytes"], "1024");
  // The cache's count of bytes read from the store, and the store's own traffic.
  EXPECT_EQ(samples["ferry_cache_store_bytes_read_total"], "9");
  EXPECT_EQ(samples["ferry_store_get_requests_total"], "3");
  EXPECT_EQ(samples["ferry_store_known_names"], "2");
}

}  // namespace
}  // namespace ferry::service
