#include "server/transfer.h"

#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <memory>

#include <spdlog/spdlog.h>

namespace ferry::server {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Sends `length` bytes of `fd` from `offset` with sendfile: zero-copy, plain TCP only.
asio::awaitable<bool> SendFileRange(Stream& stream, int fd, std::uint64_t offset,
                                    std::uint64_t length, std::string_view peer) {
  tcp::socket& socket = stream.socket();
  if (!socket.native_non_blocking()) socket.native_non_blocking(true);
  auto position = static_cast<off_t>(offset);
  while (length > 0) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(length, 1 << 30));
    ssize_t sent = ::sendfile(socket.native_handle(), fd, &position, want);
    if (sent > 0) {
      length -= static_cast<std::uint64_t>(sent);
      stream.Sent(static_cast<std::uint64_t>(sent));
    } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      auto [error] = co_await socket.async_wait(tcp::socket::wait_write, kNoThrow);
      if (error) co_return false;
    } else if (sent < 0 && errno == EINTR) {
      continue;
    } else {
      // 0: the file shrank under us (rewritten in place by another program). Cutting the
      // connection is the only honest signal left once the length is promised.
      if (sent == 0) spdlog::warn("{}: file shrank during a GET; connection cut", peer);
      co_return false;
    }
  }
  co_return true;
}

// Sends `length` bytes from `offset` through `buffer`, read on the blocking pool by `read`:
// for TLS (which encrypts in user space) and for files without a descriptor.
template <typename ReadAt>
asio::awaitable<bool> SendCopied(Stream& stream, ReadAt read, std::uint64_t offset,
                                 std::uint64_t length, asio::thread_pool& pool,
                                 std::vector<char>& buffer) {
  buffer.resize(kBodyChunk);
  while (length > 0) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(length, kBodyChunk));
    auto got = co_await Offload(pool, [&] { return read(offset, std::span<char>(buffer.data(), want)); });
    if (!got.ok() || *got == 0) co_return false;
    auto [error, written] = co_await asio::async_write(stream, asio::buffer(buffer.data(), *got), kNoThrow);
    if (error) co_return false;
    stream.Sent(*got);
    offset += *got;
    length -= *got;
  }
  co_return true;
}

asio::awaitable<bool> SendFd(Stream& stream, int fd, std::uint64_t offset, std::uint64_t length,
                             asio::thread_pool& pool, std::vector<char>& buffer,
                             std::string_view peer) {
  if (!stream.tls()) co_return co_await SendFileRange(stream, fd, offset, length, peer);
  auto pread = [fd](std::uint64_t at, std::span<char> out) -> Result<std::size_t> {
    ssize_t got = ::pread(fd, out.data(), out.size(), static_cast<off_t>(at));
    if (got < 0) return PosixError(errno, "read");
    return static_cast<std::size_t>(got);
  };
  co_return co_await SendCopied(stream, pread, offset, length, pool, buffer);
}

// Sends `length` bytes of `file` from `offset`: zero-copy where it has a descriptor.
asio::awaitable<bool> SendFile(Stream& stream, store::ReadFile& file, std::uint64_t offset,
                               std::uint64_t length, asio::thread_pool& pool,
                               std::vector<char>& buffer, std::string_view peer) {
  stream.Enter(Stream::Phase::kBody);
  if (file.fd() >= 0) co_return co_await SendFd(stream, file.fd(), offset, length, pool, buffer, peer);
  auto read = [&](std::uint64_t at, std::span<char> out) { return file.ReadAt(at, out); };
  co_return co_await SendCopied(stream, read, offset, length, pool, buffer);
}

// Sends a file that is being copied into the cache as its bytes arrive; if the copy fails,
// the rest from the data store (`reopen`).
asio::awaitable<bool> FollowFill(Stream& stream, cache::FillProgress& fill, std::uint64_t length,
                                 const service::Download& download, asio::thread_pool& pool,
                                 std::vector<char>& buffer, std::string_view peer) {
  // The fill's thread wakes us through this timer: it posts a cancel to our event loop.
  auto wake = std::make_shared<asio::steady_timer>(stream.get_executor());
  std::uint64_t sent = 0;
  while (sent < length) {
    cache::FillProgress::State state = fill.state();
    std::uint64_t available = std::min(state.written, length);
    if (available > sent) {
      stream.Enter(Stream::Phase::kBody);
      if (!co_await SendFd(stream, fill.fd(), sent, available - sent, pool, buffer, peer)) {
        co_return false;
      }
      sent = available;
      continue;
    }
    if (state.done) {  // failed before our bytes were written
      stream.Enter(Stream::Phase::kWorking);
      Result<std::unique_ptr<store::ReadFile>> source =
          Status::Internal("no way back to the data store");
      if (download.reopen) source = co_await Offload(pool, download.reopen);
      if (!source.ok()) {  // the promised bytes cannot come: cutting is the honest signal
        spdlog::info("{}: cache fill failed ({}), and the data store cannot finish it ({}); "
                     "connection cut", peer, state.status.ToString(), source.status().ToString());
        co_return false;
      }
      spdlog::info("{}: cache fill failed ({}); the rest comes from the data store", peer,
                   state.status.ToString());
      co_return co_await SendFile(stream, **source, sent, length - sent, pool, buffer, peer);
    }
    // Waiting for the store is the server's time, not the client's: no rate applies.
    stream.Enter(Stream::Phase::kWorking);
    wake->expires_at(asio::steady_timer::time_point::max());
    fill.OnProgress(sent, [wake, executor = stream.get_executor()] {
      asio::post(executor, [wake] { wake->cancel(); });
    });
    co_await wake->async_wait(kNoThrow);
  }
  co_return true;
}

}  // namespace

std::string PeerName(const tcp::socket& socket) {
  boost::system::error_code error;
  auto endpoint = socket.remote_endpoint(error);
  if (error) return "?";
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

asio::awaitable<bool> SendDownload(Stream& stream, service::Download& download,
                                   asio::thread_pool& pool, std::vector<char>& buffer,
                                   std::string_view peer) {
  if (download.filling) {
    co_return co_await FollowFill(stream, *download.filling, download.head.length, download, pool,
                                  buffer, peer);
  }
  co_return co_await SendFile(stream, *download.file, download.offset, download.head.length, pool,
                              buffer, peer);
}

}  // namespace ferry::server
