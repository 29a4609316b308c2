// Moving bytes between a socket and files, shared by both doors (native protocol and HTTP).
// Internal to the server: Asio stays out of the widely included headers.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "server/stream.h"
#include "service/file_service.h"

namespace ferry::server {

// Bodies move in chunks of this size: large enough for few system calls, small enough that
// thousands of concurrent transfers stay within memory.
inline constexpr std::size_t kBodyChunk = 256 * 1024;

// Runs `fn` on the blocking pool and resumes on the caller's event loop with its result.
template <typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> Offload(boost::asio::thread_pool& pool, F fn) {
  std::optional<std::invoke_result_t<F&>> result;
  co_await boost::asio::co_spawn(
      pool, [&]() -> boost::asio::awaitable<void> {
        result.emplace(fn());
        co_return;
      },
      boost::asio::use_awaitable);
  co_return std::move(*result);
}

// "127.0.0.1:40213", or "?" once the client is gone: how logs name a connection.
std::string PeerName(const boost::asio::ip::tcp::socket& socket);

// Sends a GET's body: `download.head.length` bytes from `download.offset`, with sendfile
// (zero-copy from the page cache) when the file has a descriptor and the stream is plain TCP,
// following a cache fill as it grows, else through `buffer` and the blocking pool. The stream
// is in its body phase while bytes move. False if the connection must close (the client went
// away or was too slow, or the promised bytes cannot come). `peer` names the client in logs.
boost::asio::awaitable<bool> SendDownload(Stream& stream,
                                          service::Download& download,
                                          boost::asio::thread_pool& pool,
                                          std::vector<char>& buffer, std::string_view peer);

}  // namespace ferry::server
