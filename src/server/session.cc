#include "server/session.h"

#include <algorithm>
#include <array>
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

// The access log's name of a command: the word on the wire.
std::string_view Verb(protocol::Command command) {
  using protocol::Command;
  switch (command) {
    case Command::kList: return "LIST";
    case Command::kStat: return "STAT";
    case Command::kGet: return "GET";
    case Command::kPut: return "PUT";
    case Command::kDel: return "DEL";
    case Command::kStats: return "STATS";
    case Command::kAuth: return "AUTH";
    case Command::kQuit: return "QUIT";
  }
  return "-";
}

std::string AddressOf(const tcp::socket& socket) {
  error_code error;
  auto endpoint = socket.remote_endpoint(error);
  return error ? std::string("?") : endpoint.address().to_string();
}

class Connection {
 public:
  Connection(SessionContext context, Stream& stream, SessionHandle& handle, std::string peer)
      : context_(context), stream_(stream), handle_(handle), peer_(std::move(peer)),
        address_(AddressOf(stream.socket())), identity_(auth::Anonymous(context.auth.get())) {}

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
  // OK, or why this connection's identity may not make `request` (401, 403).
  Status Authorize(const protocol::Request& request) const;
  asio::awaitable<bool> HandleAuth(const std::string& token);
  asio::awaitable<bool> HandleList(const std::string& prefix);
  asio::awaitable<bool> HandleGet(const protocol::Request& request);
  // A GET of a file in memory (FileService::FindHot): head and body in one write, on the loop.
  asio::awaitable<bool> SendHot(const service::HotFile& hot, const protocol::Request& request);
  asio::awaitable<bool> HandlePut(const protocol::Request& request);

  SessionContext context_;
  Stream& stream_;
  SessionHandle& handle_;
  std::string peer_;
  std::string address_;     // the client's IP address: what failed authentications count by
  auth::Identity identity_;  // anonymous until AUTH
  protocol::LineReader reader_;
  std::vector<char> body_buffer_;  // allocated on the first transfer that needs it
  int reply_status_ = 200;         // of the request being handled, for the metrics
  std::string_view access_cache_ = "-";  // of the request being handled: hit, memory, miss
};

asio::awaitable<void> Connection::Run() {
  while (true) {
    protocol::LineReader::Event event = reader_.Next();
    if (event.kind == protocol::LineReader::Kind::kNeedMore) {
      if (context_.stopping.load()) break;
      // A request begun but not finished has header_timeout for all of it.
      bool idle = reader_.Buffered().empty();
      stream_.Enter(idle ? Stream::Phase::kIdle : Stream::Phase::kHeader);
      if (idle && !stream_.tls()) {
        // An idle connection holds no buffer: wait for bytes, then read them.
        reader_.Release();
        std::vector<char>().swap(body_buffer_);
        auto [wait_error] = co_await stream_.socket().async_wait(tcp::socket::wait_read, kNoThrow);
        if (wait_error) break;
      }
      std::span<char> space = reader_.WritableSpace();
      auto [error, received] =
          co_await stream_.async_read_some(asio::buffer(space.data(), space.size()), kNoThrow);
      if (error) break;  // the client is gone, a deadline cut it, or a stop closed it
      reader_.Commit(received);
      continue;
    }
    stream_.Enter(Stream::Phase::kWorking);
    handle_.busy = true;
    RequestStart start = StartRequest(stream_);
    reply_status_ = 200;
    access_cache_ = "-";
    bool keep_going;
    service::Command command = service::Command::kOther;
    std::string_view verb = "-";
    std::string name = "-";  // the token of an AUTH never reaches a log
    if (event.kind == protocol::LineReader::Kind::kTooLong) {
      keep_going = co_await Reply(Status::BadRequest(
          fmt::format("request line longer than {} bytes", protocol::kMaxLineBytes)));
    } else {
      protocol::ParsedLine parsed = protocol::ParseRequest(event.line);
      if (parsed.request.ok()) {
        command = MetricsCommand(parsed.request->command);
        verb = Verb(parsed.request->command);
        if (parsed.request->name) name = parsed.request->name->str();
        else if (parsed.request->command == protocol::Command::kList) name = parsed.request->prefix;
      }
      keep_going = co_await Handle(std::move(parsed));
    }
    FinishRequest(context_, stream_, start, service::Door::kNative, command,
                  {.client = peer_, .command = verb, .name = name, .status = reply_status_,
                   .cache = access_cache_});
    handle_.busy = false;
    if (!keep_going || context_.stopping.load()) break;
  }
}

asio::awaitable<bool> Connection::Write(std::string bytes) {
  stream_.Enter(Stream::Phase::kBody);
  auto [error, written] = co_await asio::async_write(stream_, asio::buffer(bytes), kNoThrow);
  stream_.Sent(written);
  co_return !error;
}

asio::awaitable<std::size_t> Connection::ReadBody(std::span<char> out, error_code& error) {
  std::string_view buffered = reader_.Buffered();
  if (!buffered.empty()) {
    std::size_t taken = std::min(buffered.size(), out.size());
    std::memcpy(out.data(), buffered.data(), taken);
    reader_.Consume(taken);
    stream_.Received(taken);
    co_return taken;
  }
  stream_.Enter(Stream::Phase::kBody);
  auto [read_error, received] =
      co_await stream_.async_read_some(asio::buffer(out.data(), out.size()), kNoThrow);
  stream_.Received(received);
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
  if (Status allowed = Authorize(request); !allowed.ok()) {
    if (!co_await SkipBody(parsed.body)) co_return false;
    co_return co_await Reply(allowed) && parsed.body.kind != protocol::BodyFraming::Kind::kUntilEof;
  }
  service::FileService& service = context_.service;
  switch (request.command) {
    case Command::kAuth:
      co_return co_await HandleAuth(request.token);
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

Status Connection::Authorize(const protocol::Request& request) const {
  using protocol::Command;
  switch (request.command) {
    case Command::kAuth:
    case Command::kQuit:
      return Status::Ok();
    case Command::kList:
      return auth::AuthorizeList(identity_, request.prefix).status();
    case Command::kStat:
    case Command::kGet:
      return auth::Authorize(identity_, auth::Action::kRead, request.name->str());
    case Command::kPut:
    case Command::kDel:
      return auth::Authorize(identity_, auth::Action::kWrite, request.name->str());
    case Command::kStats:
      return auth::Authorize(identity_, auth::Action::kAdmin, "");
  }
  return Status::BadRequest("unknown command");
}

asio::awaitable<bool> Connection::HandleAuth(const std::string& token) {
  Result<auth::Identity> who = Authenticate(context_, token, address_, peer_);
  if (!who.ok()) co_return co_await Reply(who.status());
  identity_ = std::move(*who);
  co_return co_await Write(protocol::EncodeOk());
}

asio::awaitable<bool> Connection::HandleList(const std::string& requested) {
  // A token confined to a prefix lists only what it may see.
  std::string prefix = *auth::AuthorizeList(identity_, requested);
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
  if (std::shared_ptr<const service::HotFile> hot = context_.service.FindHot(*request.name);
      hot && request.offset <= hot->entry.size) {
    co_return co_await SendHot(*hot, request);
  }
  auto download = co_await Offload(context_.blocking_pool, [&] {
    return context_.service.Get(*request.name, request.offset, request.length);
  });
  if (!download.ok()) co_return co_await Reply(download.status());
  access_cache_ = download->cache_hit ? "hit" : "miss";
  spdlog::debug("{} GET {} {}+{} from {}", peer_, request.name->str(), download->offset,
                download->head.length, download->from_cache ? "cache" : "data");
  if (!co_await Write(protocol::EncodeGetHead(download->head))) co_return false;
  bool sent = co_await SendDownload(stream_, *download, context_.blocking_pool, body_buffer_, peer_);
  if (sent) context_.metrics.AddBytes(service::Door::kNative, 0, download->head.length);
  co_return sent;
}

asio::awaitable<bool> Connection::SendHot(const service::HotFile& hot, const protocol::Request& request) {
  std::uint64_t size = hot.entry.size;
  std::uint64_t length = std::min(request.length.value_or(size), size - request.offset);
  std::string ranged;  // a whole-file GET's head is encoded once, with the copy
  if (length != size) ranged = protocol::EncodeGetHead({length, size, *hot.entry.checksum});
  std::array<asio::const_buffer, 2> reply{
      asio::buffer(length == size ? hot.get_head : ranged),
      asio::buffer(hot.bytes.data() + request.offset, static_cast<std::size_t>(length))};
  context_.service.RecordHotGet(hot, length);
  access_cache_ = "memory";
  stream_.Enter(Stream::Phase::kBody);
  auto [error, written] = co_await asio::async_write(stream_, reply, kNoThrow);
  stream_.Sent(written);
  if (error) co_return false;
  context_.metrics.AddBytes(service::Door::kNative, 0, length);
  co_return true;
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
  // A small upload needs no 256 KiB buffer (it is freed again when the connection idles).
  body_buffer_.resize(until_eof ? kBodyChunk
                                : static_cast<std::size_t>(std::clamp<std::uint64_t>(body.bytes, 1, kBodyChunk)));
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
      reply_status_ = kClientGone;
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

void FinishRequest(const SessionContext& context, const Stream& stream, const RequestStart& start,
                   service::Door door, service::Command command, AccessRecord line) {
  auto duration = std::chrono::steady_clock::now() - start.time;
  context.metrics.Record(door, command, line.status, duration);
  if (!AccessLogOn()) return;
  line.time = std::chrono::system_clock::now();
  line.door = service::DoorName(door);
  line.duration = duration;
  line.bytes_sent = stream.bytes_sent() - start.sent;
  line.bytes_received = stream.bytes_received() - start.received;
  LogAccess(line);
}

asio::awaitable<bool> StartSession(const SessionContext& context, Stream& stream,
                                   std::string_view peer) {
  if (context.tls == nullptr) co_return true;
  error_code error = co_await stream.AcceptTls(*context.tls);
  if (error) {
    spdlog::debug("{} TLS handshake failed: {}", peer,
                  stream.timed_out() ? stream.timed_out() : error.message());
    co_return false;
  }
  co_return true;
}

Result<auth::Identity> Authenticate(const SessionContext& context, std::string_view token,
                                    const std::string& address, std::string_view peer) {
  if (context.auth == nullptr) return auth::Anonymous(nullptr);  // no auth file: all allowed
  auto now = auth::FailureLimiter::Clock::now();
  if (auto wait = context.failures.Blocked(address, now); wait.count() > 0) {
    return Status::TooManyRequests(fmt::format(
        "too many failed authentications from {}; retry in {} s", address, wait.count()));
  }
  std::optional<auth::Identity> who = auth::Authenticate(*context.auth, token);
  if (!who) {
    context.failures.RecordFailure(address, now);
    spdlog::warn("{} authentication failed: unknown token", peer);
    return Status::Unauthenticated("unknown token");
  }
  return std::move(*who);
}

asio::awaitable<void> RunSession(SessionContext context, tcp::socket socket,
                                 std::list<SessionHandle>& registry,
                                 [[maybe_unused]] ConnectionLimiter::Ticket ticket) {
  Stream stream(std::move(socket), context.limits);
  SessionRegistration registration(registry, stream.socket(), context.metrics, service::Door::kNative);
  std::string peer = PeerName(stream.socket());
  if (co_await StartSession(context, stream, peer)) {
    Connection connection(context, stream, registration.handle(), peer);
    co_await connection.Run();
  }
  if (stream.timed_out()) spdlog::info("{} closed: {}", peer, stream.timed_out());
  co_await stream.Close();
}

}  // namespace ferry::server
