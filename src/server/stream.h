// A connection's byte stream, for both doors: plain TCP or TLS over it, with the deadlines that
// keep slow or silent clients from holding a connection (docs/security.md, "Limits").
// Internal to the server: Asio stays out of the widely included headers.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

namespace ferry::server {

// The timeouts a Stream enforces, from the Config.
struct StreamLimits {
  std::chrono::seconds idle_timeout{60};    // 0: never
  std::chrono::seconds header_timeout{20};
  std::uint64_t min_rate = 1024;            // bytes a second during a body; 0: off
  std::chrono::seconds rate_window{30};
};

// Satisfies Asio's (and so Beast's) AsyncReadStream and AsyncWriteStream. Not movable: the TLS
// layer refers to the socket. One thread at a time (its event loop).
class Stream {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;

  // What the connection is doing decides which deadline applies. The deadline of a phase
  // starts when the phase is entered; entering the phase it is already in changes nothing.
  enum class Phase {
    kIdle,     // waiting for a request: idle_timeout
    kHeader,   // a request (or the TLS handshake) has begun: header_timeout for all of it
    kBody,     // moving a body: min_rate, checked every rate_window
    kWorking,  // the server is busy (disk, cache fill): no deadline
  };

  Stream(boost::asio::ip::tcp::socket socket, StreamLimits limits);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Wraps the socket in TLS and runs the server handshake (within header_timeout).
  boost::asio::awaitable<boost::system::error_code> AcceptTls(boost::asio::ssl::context& tls);
  bool tls() const { return tls_ != nullptr; }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  executor_type get_executor() { return socket_.get_executor(); }

  void Enter(Phase phase);
  // Bytes moved (for the min_rate check during a body, and the access log's counts).
  void Sent(std::uint64_t bytes) {
    window_bytes_ += bytes;
    bytes_sent_ += bytes;
  }
  void Received(std::uint64_t bytes) {
    window_bytes_ += bytes;
    bytes_received_ += bytes;
  }
  // Totals since the connection began.
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  std::uint64_t bytes_received() const { return bytes_received_; }
  // Why a deadline cut the stream ("idle", "request too slow", "body too slow", ...), or null.
  const char* timed_out() const { return timed_out_; }
  // Sends TLS's close_notify (bounded by a short deadline), then closes the socket (with a
  // reset if a deadline cut the client; not for an unanswered close_notify, which leaves the
  // last reply's queued bytes to be delivered).
  boost::asio::awaitable<void> Close();

  template <typename Buffers, typename Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const Buffers& b) {
          if (tls_) tls_->async_read_some(b, std::move(handler));
          else socket_.async_read_some(b, std::move(handler));
        },
        token, buffers);
  }
  template <typename Buffers, typename Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const Buffers& b) {
          if (tls_) tls_->async_write_some(b, std::move(handler));
          else socket_.async_write_some(b, std::move(handler));
        },
        token, buffers);
  }

 private:
  void Arm(std::chrono::steady_clock::time_point deadline);
  void Disarm();
  void OnDeadline();
  std::chrono::seconds BodyWindow() const;

  boost::asio::ip::tcp::socket socket_;
  // On the heap: a plain connection does not carry a TLS stream's 360 bytes.
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  StreamLimits limits_;
  boost::asio::steady_timer timer_;
  // The timer's handler may already be queued when the Stream goes; it checks this first.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::optional<Phase> phase_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  bool waiting_ = false;  // the timer has a wait in progress
  std::uint64_t window_bytes_ = 0;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t bytes_received_ = 0;
  std::optional<std::uint64_t> moved_mark_;  // TcpBytesMoved when the rate window began
  const char* timed_out_ = nullptr;
};

}  // namespace ferry::server
