#include "store/s3_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ferry::store::s3 {
namespace {

// SHA-256 of no bytes: the payload hash of a request without a body.
constexpr std::string_view kEmptyPayload =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::size_t kMaxErrorBody = 64 << 10;
constexpr std::array<const char*, kOpCount> kOpNames = {"get", "head", "put", "list", "delete", "post"};

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// What one attempt's callbacks write into.
struct Exchange {
  const Request* request = nullptr;
  Response* response = nullptr;
  CURL* curl = nullptr;
  std::size_t sent = 0;
  bool overflow = false;
};

std::size_t OnBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  std::size_t bytes = size * count;
  long status = 0;
  curl_easy_getinfo(exchange->curl, CURLINFO_RESPONSE_CODE, &status);
  Response& response = *exchange->response;
  bool into = !exchange->request->into.empty() && status >= 200 && status < 300;
  if (into) {
    std::span<char> room = exchange->request->into.subspan(response.into_bytes);
    if (bytes > room.size()) {  // more than asked for: the range was not honoured
      exchange->overflow = true;
      return 0;
    }
    std::memcpy(room.data(), data, bytes);
    response.into_bytes += bytes;
  } else if (response.body.size() + bytes <= kMaxErrorBody || status < 300) {
    response.body.append(data, bytes);
  }
  return bytes;
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* response = static_cast<Exchange*>(user)->response;
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {  // a new status line (after 100 Continue): start over
    response->headers.clear();
    return line.size();
  }
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return line.size();
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  response->headers.emplace_back(std::move(name), std::string(value));
  return line.size();
}

// libcurl rewinds a body it must send again (a kept-alive connection the store had closed).
int OnSeek(void* user, curl_off_t offset, int origin) {
  auto* exchange = static_cast<Exchange*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<std::size_t>(offset) > exchange->request->body.size()) {
    return CURL_SEEKFUNC_FAIL;
  }
  exchange->sent = static_cast<std::size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

std::size_t OnRead(char* out, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  std::string_view body = exchange->request->body.substr(exchange->sent);
  std::size_t bytes = std::min(body.size(), size * count);
  std::memcpy(out, body.data(), bytes);
  exchange->sent += bytes;
  return bytes;
}

}  // namespace

struct Client::Handle {
  CURL* curl = curl_easy_init();
  ~Handle() { curl_easy_cleanup(curl); }
};

std::string_view Response::Header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return {};
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
  InitCurlOnce();
  while (options_.endpoint.ends_with('/')) options_.endpoint.pop_back();
  user_password_ = options_.credentials.access_key + ":" + options_.credentials.secret_key;
  sigv4_ = "aws:amz:" + options_.region + ":s3";
}

Client::~Client() = default;

std::unique_ptr<Client::Handle> Client::Take() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<Handle> handle = std::move(idle_.back());
      idle_.pop_back();
      return handle;
    }
  }
  auto handle = std::make_unique<Handle>();
  if (handle->curl == nullptr) throw std::bad_alloc();
  return handle;
}

void Client::Give(std::unique_ptr<Handle> handle) {
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(handle));
}

Response Client::PerformOnce(Handle& handle, const Request& request) {
  CURL* curl = handle.curl;
  curl_easy_reset(curl);  // keeps the handle's open connection
  Response response;
  Exchange exchange{&request, &response, curl};

  std::string url = fmt::format("{}/{}", options_.endpoint, options_.bucket);
  if (!request.key.empty()) url += "/" + UriEncode(request.key, /*keep_slash=*/true);
  if (!request.query.empty()) url += "?" + request.query;

  curl_slist* headers = nullptr;
  std::string payload = fmt::format("x-amz-content-sha256: {}",
                                    request.body.empty() ? kEmptyPayload : "UNSIGNED-PAYLOAD");
  headers = curl_slist_append(headers, payload.c_str());
  // (No "Expect:" to skip 100-continue: libcurl 7.88 would sign the header it then removes.)
  for (const std::string& header : request.headers) headers = curl_slist_append(headers, header.c_str());
  std::string range;
  if (request.range) range = fmt::format("{}-{}", request.range->first, request.range->second);

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4_.c_str());
  curl_easy_setopt(curl, CURLOPT_USERPWD, user_password_.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &exchange);
  if (!range.empty()) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
  std::string_view method = request.method;
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(curl, CURLOPT_READDATA, &exchange);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, OnSeek);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &exchange);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method);
  }

  CURLcode result = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (result == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  } else {
    response.status = 0;
    response.transport_error = exchange.overflow ? "the store sent more than the range asked for"
                                                 : curl_easy_strerror(result);
    response.retryable = !exchange.overflow;  // it would ignore the range again
  }
  return response;
}

Response Client::Perform(const Request& request) {
  OpCounters& counters = counters_[static_cast<std::size_t>(request.op)];
  thread_local std::minstd_rand random(std::random_device{}());
  std::unique_ptr<Handle> handle = Take();
  Response response;
  for (int attempt = 1;; ++attempt) {
    auto start = std::chrono::steady_clock::now();
    response = PerformOnce(*handle, request);
    auto elapsed = std::chrono::steady_clock::now() - start;
    counters.requests.fetch_add(1, std::memory_order_relaxed);
    counters.latency_us.fetch_add(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()),
        std::memory_order_relaxed);
    counters.bytes_sent.fetch_add(request.body.size(), std::memory_order_relaxed);
    counters.bytes_received.fetch_add(response.body.size() + response.into_bytes,
                                      std::memory_order_relaxed);
    bool failed = response.status == 0 || response.status >= 500;
    if (failed) counters.errors.fetch_add(1, std::memory_order_relaxed);
    // Only a failure's body is an error document (a listing's is not worth parsing twice).
    ErrorBody error = response.status >= 300 ? response.error() : ErrorBody{};
    if (!response.retryable || !Retryable(response.status, error) || attempt >= options_.max_attempts) break;
    auto delay = RetryDelay(attempt, std::uniform_real_distribution<double>(0, 1)(random),
                            options_.retry_base, options_.retry_cap);
    spdlog::warn("store: {} {}: {}; retry {} in {} ms", request.method, request.key,
                 response.status == 0 ? response.transport_error
                                      : fmt::format("HTTP {} {}", response.status, error.code),
                 attempt, delay.count());
    counters.retries.fetch_add(1, std::memory_order_relaxed);
    // A connection that failed may be broken: a fresh handle reconnects.
    if (response.status == 0) handle = std::make_unique<Handle>();
    std::this_thread::sleep_for(delay);
  }
  Give(std::move(handle));
  // The store's failures are the operator's to see (the client only gets a 503).
  if (response.status == 0 || response.status >= 500 || response.status == 401 || response.status == 403) {
    ErrorBody error = response.error();
    spdlog::error("store: {} {}: {}", request.method, request.key,
                  response.status == 0 ? response.transport_error
                                       : fmt::format("HTTP {} {} {}", response.status, error.code, error.message));
  }
  return response;
}

std::vector<std::pair<std::string, std::uint64_t>> Client::Counters() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (std::size_t op = 0; op < kOpCount; ++op) {
    const OpCounters& c = counters_[op];
    auto add = [&](std::string_view what, const std::atomic<std::uint64_t>& value) {
      out.emplace_back(fmt::format("store_{}_{}", kOpNames[op], what), value.load(std::memory_order_relaxed));
    };
    add("requests", c.requests);
    add("errors", c.errors);
    add("retries", c.retries);
    add("bytes_sent", c.bytes_sent);
    add("bytes_received", c.bytes_received);
    add("latency_us", c.latency_us);
  }
  return out;
}

}  // namespace ferry::store::s3
