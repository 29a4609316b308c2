#include "server/stream.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "server/tcp_counters.h"

namespace ferry::server {

namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {
// TLS's close_notify is a courtesy: a peer that does not read it does not hold us longer.
constexpr std::chrono::seconds kCloseNotifyTime{2};
}  // namespace

Stream::Stream(asio::ip::tcp::socket socket, StreamLimits limits)
    : socket_(std::move(socket)), limits_(limits), timer_(socket_.get_executor()) {}

Stream::~Stream() { *alive_ = false; }

asio::awaitable<error_code> Stream::AcceptTls(asio::ssl::context& tls) {
  tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, tls);
  Enter(Phase::kHeader);
  auto [error] = co_await tls_->async_handshake(asio::ssl::stream_base::server,
                                                asio::as_tuple(asio::use_awaitable));
  co_return error;
}

void Stream::Enter(Phase phase) {
  if (phase_ == phase) return;
  phase_ = phase;
  window_bytes_ = 0;
  // The kernel's count is asked for only if a window falls short (OnDeadline): a getsockopt
  // per reply would cost a system call on every small GET.
  if (phase == Phase::kBody) moved_mark_.reset();
  switch (phase) {
    case Phase::kIdle:
      if (limits_.idle_timeout.count() == 0) return Disarm();
      return Arm(Clock::now() + limits_.idle_timeout);
    case Phase::kHeader:
      return Arm(Clock::now() + limits_.header_timeout);
    case Phase::kBody:
      return Arm(Clock::now() + BodyWindow());
    case Phase::kWorking:
      return Disarm();
  }
}

std::chrono::seconds Stream::BodyWindow() const {
  // Without a minimum rate, a body must still move at least a byte per idle timeout.
  if (limits_.min_rate > 0) return limits_.rate_window;
  return limits_.idle_timeout;
}

void Stream::Disarm() { deadline_ = Clock::time_point::max(); }

// Moving a deadline later costs nothing: the timer fires at the old one and re-arms. Only an
// earlier deadline restarts the timer, so a request's phases rarely touch it.
void Stream::Arm(Clock::time_point deadline) {
  deadline_ = deadline;
  if (waiting_ && timer_.expiry() <= deadline) return;
  timer_.expires_at(deadline);  // cancels a wait in progress, whose handler then returns
  waiting_ = true;
  timer_.async_wait([this, alive = alive_](error_code error) {
    if (error || !*alive) return;
    waiting_ = false;
    OnDeadline();
  });
}

void Stream::OnDeadline() {
  if (deadline_ == Clock::time_point::max()) return;
  auto now = Clock::now();
  if (now < deadline_) return Arm(deadline_);
  if (phase_ == Phase::kBody) {
    std::uint64_t needed = limits_.min_rate > 0
                               ? limits_.min_rate * static_cast<std::uint64_t>(BodyWindow().count())
                               : 1;
    // What the kernel moved counts as well: a reader's progress shows in acknowledged bytes
    // long before its socket is writable again (half the send buffer, megabytes, must drain
    // first), and an upload's in received bytes while a composed read (Beast's) still fills
    // its buffer. Without them, a client above min_rate was cut.
    std::optional<std::uint64_t> moved = TcpBytesMoved(socket_.native_handle());
    std::uint64_t kernel_bytes = moved && moved_mark_ ? *moved - *moved_mark_ : 0;
    // A body's first window that falls short has no kernel mark yet: it takes one and gets one
    // more window, judged by the kernel's count too. A stalled client goes after two windows.
    if (std::max(window_bytes_, kernel_bytes) >= needed || (!moved_mark_ && moved)) {
      window_bytes_ = 0;
      moved_mark_ = moved;
      return Arm(now + BodyWindow());
    }
  }
  timed_out_ = !phase_                    ? "close_notify not answered"
               : phase_ == Phase::kIdle   ? "idle"
               : phase_ == Phase::kHeader ? "request too slow"
                                          : "body too slow";
  // shutdown, not close: the descriptor stays valid until the session ends. Pending and later
  // operations fail, and the session winds down by its usual error paths. Its close then
  // resets the connection (linger 0), dropping what a reader that stopped reading left queued
  // (megabytes, which a plain close would go on sending: nginx's reset_timedout_connection).
  // Not after an unanswered close_notify: the client may still be reading the last reply,
  // queued before it, at any rate above min_rate; those bytes are its own, so that close stays
  // graceful and the kernel delivers them.
  error_code ignored;
  if (phase_) socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.cancel(ignored);
}

asio::awaitable<void> Stream::Close() {
  error_code ignored;
  if (tls_ && !timed_out_) {
    Disarm();
    phase_.reset();
    Arm(Clock::now() + kCloseNotifyTime);
    co_await tls_->async_shutdown(asio::as_tuple(asio::use_awaitable));
  }
  Disarm();
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  // Closed here, not by the destructor: Asio's destructor clears a linger option first.
  socket_.close(ignored);
}

}  // namespace ferry::server
