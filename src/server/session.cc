#include "server/session.h"

#include <sys/sendfile.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "protocol/line_reader.h"
#include "protocol/reply.h"
#include "protocol/request.h"

namespace ferry::server {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Bodies move in chunks of this size: large enough for few system calls, small enough that
// thousands of concurrent uploads stay within memory.
constexpr std::size_t kBodyChunk = 256 * 1024;
// A listing is written in pieces of about this size.
constexpr std::size_t kListingFlushBytes = 64 * 1024;

// Runs `fn` on the blocking pool and resumes on the caller's event loop with its result.
template <typename F>
asio::awaitable<std::invoke_result_t<F&>> Offload(asio::thread_pool& pool, F fn) {
  std::optional<std::invoke_result_t<F&>> result;
  co_await asio::co_spawn(
      pool, [&]() -> asio::awaitable<void> {
        result.emplace(fn());
        co_return;
      },
      asio::use_awaitable);
  co_return std::move(*result);
}

class Connection {
 public:
  Connection(SessionContext context, tcp::socket& socket, SessionHandle& handle)
      : context_(context), socket_(socket), handle_(handle) {
    error_code ignored;
    auto endpoint = socket_.remote_endpoint(ignored);
    peer_ = ignored ? "?" : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }

  asio::awaitable<void> Run();

 private:
  // Takes the bytes by value: they live in the coroutine frame until written.
  asio::awaitable<bool> Write(std::string bytes);
  asio::awaitable<bool> Reply(const Status& status) { return Write(protocol::EncodeError(status)); }
  // Reads up to out.size() body bytes: first those the line reader already holds. 0 on end of
  // stream or error (in `error`).
  asio::awaitable<std::size_t> ReadBody(std::span<char> out, error_code& error);
  // Reads and drops a refused request's body; false if the connection broke meanwhile.
  asio::awaitable<bool> SkipBody(const protocol::BodyFraming& body);

  // Each returns false when the connection must close.
  asio::awaitable<bool> Handle(protocol::ParsedLine parsed);
  asio::awaitable<bool> HandleList(const std::string& prefix);
  asio::awaitable<bool> HandleGet(const protocol::Request& request);
  asio::awaitable<bool> HandlePut(const protocol::Request& request);
  asio::awaitable<bool> SendBody(service::Download& download);
  // Sends `length` bytes of `fd` from `offset` with sendfile (zero-copy from the page cache).
  asio::awaitable<bool> SendFileRange(int fd, std::uint64_t offset, std::uint64_t length);
  // Sends a file that is being copied into the cache as its bytes arrive.
  asio::awaitable<bool> FollowFill(cache::FillProgress& fill, std::uint64_t length);

  SessionContext context_;
  tcp::socket& socket_;
  SessionHandle& handle_;
  std::string peer_;
  protocol::LineReader reader_;
  std::vector<char> body_buffer_;  // allocated on the first transfer that needs it
};

asio::awaitable<void> Connection::Run() {
  while (true) {
    protocol::LineReader::Event event = reader_.Next();
    if (event.kind == protocol::LineReader::Kind::kNeedMore) {
      if (context_.stopping.load()) break;
      std::span<char> space = reader_.WritableSpace();
      auto [error, received] =
          co_await socket_.async_read_some(asio::buffer(space.data(), space.size()), kNoThrow);
      if (error) break;  // the client is gone, or a stop closed the idle connection
      reader_.Commit(received);
      continue;
    }
    handle_.busy = true;
    bool keep_going;
    if (event.kind == protocol::LineReader::Kind::kTooLong) {
      keep_going = co_await Reply(Status::BadRequest(
          fmt::format("request line longer than {} bytes", protocol::kMaxLineBytes)));
    } else {
      keep_going = co_await Handle(protocol::ParseRequest(event.line));
    }
    handle_.busy = false;
    if (!keep_going || context_.stopping.load()) break;
  }
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<bool> Connection::Write(std::string bytes) {
  auto [error, written] = co_await asio::async_write(socket_, asio::buffer(bytes), kNoThrow);
  co_return !error;
}

asio::awaitable<std::size_t> Connection::ReadBody(std::span<char> out, error_code& error) {
  std::string_view buffered = reader_.Buffered();
  if (!buffered.empty()) {
    std::size_t taken = std::min(buffered.size(), out.size());
    std::memcpy(out.data(), buffered.data(), taken);
    reader_.Consume(taken);
    co_return taken;
  }
  auto [read_error, received] =
      co_await socket_.async_read_some(asio::buffer(out.data(), out.size()), kNoThrow);
  error = read_error;
  co_return received;
}

asio::awaitable<bool> Connection::SkipBody(const protocol::BodyFraming& body) {
  using Kind = protocol::BodyFraming::Kind;
  if (body.kind == Kind::kNone) co_return true;
  body_buffer_.resize(kBodyChunk);
  std::uint64_t remaining = body.bytes;
  while (body.kind == Kind::kUntilEof || remaining > 0) {
    std::size_t want = body.kind == Kind::kUntilEof
                           ? kBodyChunk
                           : static_cast<std::size_t>(std::min<std::uint64_t>(remaining, kBodyChunk));
    error_code error;
    std::size_t got = co_await ReadBody({body_buffer_.data(), want}, error);
    if (got == 0) co_return body.kind == Kind::kUntilEof && error == asio::error::eof;
    remaining -= std::min<std::uint64_t>(got, remaining);
  }
  co_return true;
}

asio::awaitable<bool> Connection::Handle(protocol::ParsedLine parsed) {
  using protocol::Command;
  if (!parsed.request.ok()) {
    spdlog::debug("{} refused: {}", peer_, parsed.request.status().ToString());
    if (!co_await SkipBody(parsed.body)) co_return false;
    bool written = co_await Reply(parsed.request.status());
    co_return written && parsed.body.kind != protocol::BodyFraming::Kind::kUntilEof;
  }
  const protocol::Request& request = *parsed.request;
  service::FileService& service = context_.service;
  switch (request.command) {
    case Command::kList:
      co_return co_await HandleList(request.prefix);
    case Command::kStat: {
      auto entry = co_await Offload(context_.blocking_pool,
                                    [&] { return service.Stat(*request.name); });
      // A named reply, not a ?: temporary: GCC 12 destroys such temporaries twice in co_await.
      std::string reply = entry.ok() ? protocol::EncodeStat(*entry) : protocol::EncodeError(entry.status());
      co_return co_await Write(std::move(reply));
    }
    case Command::kGet:
      co_return co_await HandleGet(request);
    case Command::kPut:
      co_return co_await HandlePut(request);
    case Command::kDel: {
      Status removed = co_await Offload(context_.blocking_pool,
                                        [&] { return service.Delete(*request.name); });
      std::string reply = removed.ok() ? protocol::EncodeOk() : protocol::EncodeError(removed);
      co_return co_await Write(std::move(reply));
    }
    case Command::kStats:
      co_return co_await Write(protocol::EncodeStats(service.Stats()));
    case Command::kQuit:
      co_await Write(protocol::EncodeOk());
      co_return false;
  }
  co_return false;
}

asio::awaitable<bool> Connection::HandleList(const std::string& prefix) {
  auto entries =
      co_await Offload(context_.blocking_pool, [&] { return context_.service.List(prefix); });
  if (!entries.ok()) co_return co_await Reply(entries.status());
  std::string out = protocol::EncodeListHead(entries->size());
  for (const protocol::FileEntry& entry : *entries) {
    out += protocol::EncodeListEntry(entry);
    if (out.size() >= kListingFlushBytes) {
      if (!co_await Write(std::move(out))) co_return false;
      out.clear();  // moved from: valid, now reused
    }
  }
  co_return co_await Write(std::move(out));
}

asio::awaitable<bool> Connection::HandleGet(const protocol::Request& request) {
  auto download = co_await Offload(context_.blocking_pool, [&] {
    return context_.service.Get(*request.name, request.offset, request.length);
  });
  if (!download.ok()) co_return co_await Reply(download.status());
  spdlog::debug("{} GET {} {}+{} from {}", peer_, request.name->str(), download->offset,
                download->head.length, download->from_cache ? "cache" : "data");
  if (!co_await Write(protocol::EncodeGetHead(download->head))) co_return false;
  co_return co_await SendBody(*download);
}

asio::awaitable<bool> Connection::SendBody(service::Download& download) {
  if (download.filling) co_return co_await FollowFill(*download.filling, download.head.length);
  int fd = download.file->fd();
  if (fd >= 0) co_return co_await SendFileRange(fd, download.offset, download.head.length);
  body_buffer_.resize(kBodyChunk);
  std::uint64_t offset = download.offset;
  std::uint64_t remaining = download.head.length;
  while (remaining > 0) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, kBodyChunk));
    auto got = co_await Offload(context_.blocking_pool, [&] {
      return download.file->ReadAt(offset, {body_buffer_.data(), want});
    });
    if (!got.ok() || *got == 0) co_return false;
    if (!co_await Write(std::string(body_buffer_.data(), *got))) co_return false;
    offset += *got;
    remaining -= *got;
  }
  co_return true;
}

asio::awaitable<bool> Connection::SendFileRange(int fd, std::uint64_t offset,
                                                std::uint64_t length) {
  if (!socket_.native_non_blocking()) socket_.native_non_blocking(true);
  auto position = static_cast<off_t>(offset);
  while (length > 0) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(length, 1 << 30));
    ssize_t sent = ::sendfile(socket_.native_handle(), fd, &position, want);
    if (sent > 0) {
      length -= static_cast<std::uint64_t>(sent);
    } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      auto [error] = co_await socket_.async_wait(tcp::socket::wait_write, kNoThrow);
      if (error) co_return false;
    } else if (sent < 0 && errno == EINTR) {
      continue;
    } else {
      // 0: the file shrank under us (rewritten in place by another program). Cutting the
      // connection is the only honest signal left once the length is promised.
      if (sent == 0) spdlog::warn("{}: file shrank during a GET; connection cut", peer_);
      co_return false;
    }
  }
  co_return true;
}

asio::awaitable<bool> Connection::FollowFill(cache::FillProgress& fill,
                                             std::uint64_t length) {
  // The fill's thread wakes us through this timer: it posts a cancel to our event loop.
  auto wake = std::make_shared<asio::steady_timer>(socket_.get_executor());
  std::uint64_t sent = 0;
  while (sent < length) {
    cache::FillProgress::State state = fill.state();
    std::uint64_t available = std::min(state.written, length);
    if (available > sent) {
      if (!co_await SendFileRange(fill.fd(), sent, available - sent)) co_return false;
      sent = available;
      continue;
    }
    if (state.done) {  // failed before our bytes were written: the promised length cannot come
      spdlog::info("{}: cache fill failed ({}); connection cut", peer_, state.status.ToString());
      co_return false;
    }
    wake->expires_at(asio::steady_timer::time_point::max());
    fill.OnProgress(sent, [wake, executor = socket_.get_executor()] {
      asio::post(executor, [wake] { wake->cancel(); });
    });
    co_await wake->async_wait(kNoThrow);
  }
  co_return true;
}

asio::awaitable<bool> Connection::HandlePut(const protocol::Request& request) {
  using Kind = protocol::BodyFraming::Kind;
  protocol::BodyFraming body = request.size ? protocol::BodyFraming{Kind::kExact, *request.size}
                                            : protocol::BodyFraming{Kind::kUntilEof, 0};
  bool until_eof = body.kind == Kind::kUntilEof;
  auto upload = co_await Offload(context_.blocking_pool, [&] {
    return context_.service.Put(*request.name, request.size, request.checksum);
  });
  if (!upload.ok()) {
    if (!co_await SkipBody(body)) co_return false;
    co_return co_await Reply(upload.status()) && !until_eof;
  }
  body_buffer_.resize(kBodyChunk);
  std::uint64_t remaining = body.bytes;
  while (until_eof || remaining > 0) {
    std::size_t want = until_eof ? kBodyChunk
                                 : static_cast<std::size_t>(std::min<std::uint64_t>(remaining, kBodyChunk));
    error_code error;
    std::size_t got = co_await ReadBody({body_buffer_.data(), want}, error);
    if (got == 0) {
      if (until_eof && error == asio::error::eof) break;
      // The client went away mid-upload: dropping the upload removes its temporary file.
      spdlog::info("{} PUT {}: connection lost after {} bytes; nothing stored", peer_,
                   request.name->str(), (*upload)->received());
      co_return false;
    }
    Status appended = co_await Offload(context_.blocking_pool, [&] {
      return (*upload)->Append({body_buffer_.data(), got});
    });
    remaining -= std::min<std::uint64_t>(got, remaining);
    if (!appended.ok()) {
      upload->reset();  // nothing of it stays
      if (!co_await SkipBody({body.kind, remaining})) co_return false;
      co_return co_await Reply(appended) && !until_eof;
    }
  }
  auto done = co_await Offload(context_.blocking_pool, [&] { return (*upload)->Commit(); });
  if (!done.ok()) co_return co_await Reply(done.status()) && !until_eof;
  spdlog::debug("{} PUT {} {} bytes", peer_, request.name->str(), done->size);
  co_return co_await Write(protocol::EncodePutDone(*done)) && !until_eof;
}

}  // namespace

asio::awaitable<void> RunSession(SessionContext context, tcp::socket socket,
                                 std::list<SessionHandle>& registry) {
  auto handle = registry.insert(registry.end(), SessionHandle{&socket, false});
  struct Unregister {
    std::list<SessionHandle>& registry;
    std::list<SessionHandle>::iterator handle;
    ~Unregister() { registry.erase(handle); }
  } unregister{registry, handle};
  Connection connection(context, socket, *handle);
  co_await connection.Run();
}

}  // namespace ferry::server
