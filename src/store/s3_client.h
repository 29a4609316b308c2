// S3Client: blocking S3 requests over libcurl, signed by libcurl's SigV4 (CURLOPT_AWS_SIGV4),
// on a pool of reused connections, retried with backoff and jitter, and counted for STATS.
// Path-style URLs (ENDPOINT/BUCKET/KEY), which self-hosted stores need and AWS accepts.
// Thread-safe; each call blocks its thread (the server calls it from its blocking pool).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/s3_protocol.h"

namespace ferry::store::s3 {

// What a request is, for the counters (an operator's view of the store's bill).
enum class Op { kGet, kHead, kPut, kList, kDelete, kPost };
inline constexpr std::size_t kOpCount = 6;

struct ClientOptions {
  std::string endpoint;  // "http://127.0.0.1:7480", "https://s3.eu-west-1.amazonaws.com"
  std::string region = "us-east-1";
  std::string bucket;
  Credentials credentials;
  int max_attempts = 4;  // a request, then up to 3 retries
  std::chrono::milliseconds retry_base{100};
  std::chrono::milliseconds retry_cap{2'000};
  std::chrono::milliseconds connect_timeout{5'000};
  // A transfer that moves no byte this long is abandoned (and retried).
  std::chrono::seconds stall_timeout{30};
};

struct Request {
  Op op = Op::kGet;
  const char* method = "GET";
  std::string key;    // full object key, unencoded; empty: the bucket itself
  std::string query;  // canonical (CanonicalQuery)
  std::vector<std::string> headers;  // "Name: value"
  std::string_view body;             // sent as is (PUT, POST)
  // Inclusive byte range to GET; its bytes land in `into` (which must hold them).
  std::optional<std::pair<std::uint64_t, std::uint64_t>> range;
  std::span<char> into;
};

struct Response {
  long status = 0;  // 0: no reply (the store is unreachable, or the transfer stalled)
  std::string transport_error;  // libcurl's words when status is 0
  bool retryable = true;        // false: asking again cannot help
  std::string body;             // a reply's body, unless it went to Request::into
  std::size_t into_bytes = 0;   // bytes written to Request::into
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string_view Header(std::string_view lowercase_name) const;
  ErrorBody error() const { return ParseErrorBody(body); }
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `request`, retrying what is retryable (no reply, 5xx, SlowDown) up to max_attempts.
  // Returns the last reply, whatever its status.
  Response Perform(const Request& request);

  // "store_get_requests" ... "store_post_latency_us": counters in a stable order.
  std::vector<std::pair<std::string, std::uint64_t>> Counters() const;
  const ClientOptions& options() const { return options_; }

 private:
  struct Handle;
  Response PerformOnce(Handle& handle, const Request& request);
  std::unique_ptr<Handle> Take();
  void Give(std::unique_ptr<Handle> handle);

  struct OpCounters {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> retries{0};
    std::atomic<std::uint64_t> bytes_sent{0};
    std::atomic<std::uint64_t> bytes_received{0};
    std::atomic<std::uint64_t> latency_us{0};
  };

  ClientOptions options_;
  std::string user_password_;
  std::string sigv4_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Handle>> idle_;  // GUARDED_BY(mutex_): connections to reuse
  std::array<OpCounters, kOpCount> counters_;
};

}  // namespace ferry::store::s3
