#include "server/session.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "protocol/line_reader.h"
#include "protocol/reply.h"
#include "protocol/request.h"
#include "server/transfer.h"

namespace ferry::server {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// A listing is written in pieces of about this size.
constexpr std::size_t kListingFlushBytes = 64 * 1024;

service::Command MetricsCommand(protocol::Command command) {
  using protocol::Command;
  switch (command) {
    case Command::kList: return service::Command::kList;
    case Command::kStat: return service::Command::kStat;
    case Command::kGet: return service::Command::kGet;
    case Command::kPut: return service::Command::kPut;
    case Command::kDel: return service::Command::kDelete;
    case Command::kStats: return service::Command::kStats;
    case Command::kAuth:
    case Command::kQuit: break;
  }
  return service::Command::kOther;
}

class Connection {
 public:
  Connection(SessionContext context, tcp::socket& socket, SessionHandle& handle)
      : context_(context), socket_(socket), handle_(handle), peer_(PeerName(socket)) {}

  asio::awaitable<void> Run();

 private:
  // Takes the bytes by value: they live in the coroutine frame until written.
  asio::awaitable<bool> Write(std::string bytes);
  asio::awaitable<bool> Reply(const Status& status) {
    reply_status_ = status.number();
    return Write(protocol::EncodeError(status));
  }
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

  SessionContext context_;
  tcp::socket& socket_;
  SessionHandle& handle_;
  std::string peer_;
  protocol::LineReader reader_;
  std::vector<char> body_buffer_;  // allocated on the first transfer that needs it
  int reply_status_ = 200;         // of the request being handled, for the metrics
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
    auto started = std::chrono::steady_clock::now();
    reply_status_ = 200;
    bool keep_going;
    service::Command command = service::Command::kOther;
    if (event.kind == protocol::LineReader::Kind::kTooLong) {
      keep_going = co_await Reply(Status::BadRequest(
          fmt::format("request line longer than {} bytes", protocol::kMaxLineBytes)));
    } else {
      protocol::ParsedLine parsed = protocol::ParseRequest(event.line);
      if (parsed.request.ok()) command = MetricsCommand(parsed.request->command);
      keep_going = co_await Handle(std::move(parsed));
    }
    context_.metrics.Record(service::Door::kNative, command, reply_status_,
                            std::chrono::steady_clock::now() - started);
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
      if (!entry.ok()) co_return co_await Reply(entry.status());
      co_return co_await Write(protocol::EncodeStat(*entry));
    }
    case Command::kGet:
      co_return co_await HandleGet(request);
    case Command::kPut:
      co_return co_await HandlePut(request);
    case Command::kDel: {
      Status removed = co_await Offload(context_.blocking_pool,
                                        [&] { return service.Delete(*request.name); });
      if (!removed.ok()) co_return co_await Reply(removed);
      co_return co_await Write(protocol::EncodeOk());
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
  bool sent = co_await SendDownload(socket_, *download, context_.blocking_pool, body_buffer_, peer_);
  if (sent) context_.metrics.AddBytes(service::Door::kNative, 0, download->head.length);
  co_return sent;
}

asio::awaitable<bool> Connection::HandlePut(const protocol::Request& request) {
  using Kind = protocol::BodyFraming::Kind;
  protocol::BodyFraming body = request.size ? protocol::BodyFraming{Kind::kExact, *request.size}
                                            : protocol::BodyFraming{Kind::kUntilEof, 0};
  bool until_eof = body.kind == Kind::kUntilEof;
  auto upload = co_await Offload(context_.blocking_pool, [&] {
    return context_.service.Put(*request.name, request.size, request.checksum, request.resume);
  });
  if (!upload.ok()) {
    if (request.resume) co_return co_await Reply(upload.status());  // its body waits for CONTINUE
    if (!co_await SkipBody(body)) co_return false;
    co_return co_await Reply(upload.status()) && !until_eof;
  }
  if (request.resume) {
    std::uint64_t offset = (*upload)->received();
    if (!co_await Write(protocol::EncodeContinue(offset))) co_return false;
    body.bytes -= offset;
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
      // The client went away mid-upload: dropping the upload removes its temporary file (a
      // resumable one keeps its bytes for the next try).
      spdlog::info("{} PUT {}: connection lost after {} bytes; nothing stored{}", peer_,
                   request.name->str(), (*upload)->received(),
                   request.resume ? " (kept to resume)" : "");
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
  context_.metrics.AddBytes(service::Door::kNative, done->size, 0);
  co_return co_await Write(protocol::EncodePutDone(*done)) && !until_eof;
}

}  // namespace

asio::awaitable<void> RunSession(SessionContext context, tcp::socket socket,
                                 std::list<SessionHandle>& registry) {
  SessionRegistration registration(registry, socket, context.metrics, service::Door::kNative);
  Connection connection(context, socket, registration.handle());
  co_await connection.Run();
}

}  // namespace ferry::server
