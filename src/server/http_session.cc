// The HTTP/1.1 door (docs/http.md): Beast parses requests and writes headers; bodies move
// through the same code as the native protocol's (sendfile, cache fills, the blocking pool).
// The rules of HTTP for files live in src/http as pure functions; this file only wires them
// to sockets.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <ctime>

#include <spdlog/spdlog.h>

#include "http/listing.h"
#include "http/semantics.h"
#include "http/target.h"
#include "server/session.h"
#include "server/transfer.h"

namespace ferry::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;
using boost::system::error_code;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

using RequestParser = bhttp::request_parser<bhttp::buffer_body>;
using HeadOnly = bhttp::response<bhttp::empty_body>;

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
// A refused request's body up to this size is read and dropped so the connection stays
// open; a larger one closes the connection instead.
constexpr std::uint64_t kMaxDrainBytes = 1 << 20;
// After a reply that ends a connection with a body still coming, read and drop what arrives
// for this long, so the client sees the reply rather than a reset (nginx's lingering close).
constexpr std::chrono::seconds kLingerTime{2};

// A request header's value, empty when absent. `field` is a bhttp::field or a name.
template <typename Field>
std::string_view Header(const RequestParser& parser, Field field) {
  auto found = parser.get().find(field);
  if (found == parser.get().end()) return {};
  return {found->value().data(), found->value().size()};
}

bool ExpectsContinue(const RequestParser& parser) {
  return parser.get().version() >= 11 &&
         beast::iequals(Header(parser, bhttp::field::expect), "100-continue");
}

// The Date header, formatted once a second per event loop (as nginx does), not per reply.
const std::string& CurrentHttpDate() {
  thread_local std::time_t formatted_at = -1;
  thread_local std::string date;
  std::time_t now = std::time(nullptr);
  if (now != formatted_at) {
    date = http::FormatHttpDate(now);
    formatted_at = now;
  }
  return date;
}

class HttpConnection {
 public:
  HttpConnection(SessionContext context, Stream& stream, SessionHandle& handle, std::string peer)
      : context_(context), stream_(stream), handle_(handle), peer_(std::move(peer)) {
    error_code error;
    auto endpoint = stream.socket().remote_endpoint(error);
    address_ = error ? "?" : endpoint.address().to_string();
  }

  asio::awaitable<void> Run();

 private:
  // What handling one request left behind.
  struct Outcome {
    int status = 200;
    service::Command command = service::Command::kOther;
    bool keep_alive = true;  // false: close the connection after this reply
    bool linger = false;     // close with a lingering read (a body may still be arriving)
    std::string name = "-";           // for the access log: the decoded name or folder
    std::string_view cache = "-";     // GET: hit, memory, miss
  };

  asio::awaitable<void> Handle(RequestParser& parser, Outcome& outcome);
  asio::awaitable<void> HandleFile(RequestParser& parser, const ObjectName& name, Outcome& outcome);
  asio::awaitable<void> HandleFolder(RequestParser& parser, const std::string& folder,
                                     Outcome& outcome);
  asio::awaitable<void> HandlePut(RequestParser& parser, const ObjectName& name, Outcome& outcome);
  asio::awaitable<void> HandleDelete(const RequestParser& parser, const ObjectName& name,
                                     Outcome& outcome);

  // A reply whose body is `text` (not sent for HEAD). Sets outcome.status.
  asio::awaitable<void> SendText(const RequestParser& parser, Outcome& outcome, bhttp::status status,
                                 std::string_view content_type, std::string text,
                                 HeadOnly extra = {});
  asio::awaitable<void> SendError(const RequestParser& parser, Outcome& outcome, const Status& status);
  // Writes a header; the body (if any) follows through the caller.
  asio::awaitable<bool> WriteHeader(HeadOnly& response);
  // Reads and drops the rest of a request's body if it is small, else marks the connection
  // to close after the reply (it is not worth reading a refused 1 GiB upload).
  asio::awaitable<void> DiscardBody(RequestParser& parser, Outcome& outcome);
  asio::awaitable<void> LingeringClose();
  void AddCommonHeaders(HeadOnly& response, const RequestParser& parser, bool keep_alive) const;

  // Who sent this request: from its Authorization header (each request stands alone, as
  // HTTP wants), or 401/429.
  Result<auth::Identity> Identify(const RequestParser& parser);
  // OK if `identity_` may do `action` on `name`; else answers 401 or 403 and returns false.
  asio::awaitable<bool> Allowed(RequestParser& parser, Outcome& outcome, auth::Action action,
                                std::string_view name);
  asio::awaitable<void> SendAuthError(const RequestParser& parser, Outcome& outcome,
                                      const Status& status);
  // Reads into buffer_ until it holds something, in the idle phase; false when the
  // connection ended instead.
  asio::awaitable<bool> AwaitRequest();

  SessionContext context_;
  Stream& stream_;
  SessionHandle& handle_;
  std::string peer_;
  std::string address_;      // the client's IP address: what failed authentications count by
  auth::Identity identity_;  // of the request being handled
  beast::flat_buffer buffer_{kMaxHeaderBytes + kBodyChunk};
  std::vector<char> body_buffer_;  // allocated on the first transfer that needs it
  bool continue_sent_ = false;     // this request's "100 Continue" went out
};

asio::awaitable<void> HttpConnection::Run() {
  bool linger = false;
  while (!context_.stopping.load()) {
    if (!co_await AwaitRequest()) break;
    stream_.Enter(Stream::Phase::kHeader);
    RequestParser parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(boost::none);  // the upload limit is the service's, with its own 413
    auto [error, read] = co_await bhttp::async_read_header(stream_, buffer_, parser, kNoThrow);
    if (error == bhttp::error::end_of_stream || error == asio::error::eof ||
        error == asio::error::operation_aborted || error == asio::error::connection_reset) {
      break;  // the client is done, or a deadline or a stop closed the connection
    }
    stream_.Enter(Stream::Phase::kWorking);
    handle_.busy = true;
    RequestStart start = StartRequest(stream_);
    continue_sent_ = false;
    Outcome outcome;
    if (error) {
      // Not HTTP, or headers too large: answer once, then close (the stream cannot be resynced).
      bool too_large = error == bhttp::error::header_limit;
      spdlog::debug("{} bad HTTP request: {}", peer_, error.message());
      std::string text = too_large ? "431 request header fields too large\n"
                                   : fmt::format("400 bad request: {}\n", error.message());
      bhttp::response<bhttp::string_body> response{
          too_large ? bhttp::status::request_header_fields_too_large : bhttp::status::bad_request,
          11, std::move(text)};
      response.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      response.keep_alive(false);
      response.prepare_payload();
      stream_.Enter(Stream::Phase::kBody);
      auto written = co_await bhttp::async_write(stream_, response, kNoThrow);
      stream_.Sent(std::get<1>(written));
      outcome.status = static_cast<int>(response.result_int());
      outcome.keep_alive = false;
      outcome.linger = true;
    } else {
      outcome.keep_alive = parser.get().keep_alive();
      co_await Handle(parser, outcome);
      // Whatever left its body unread cannot keep the connection: the bytes would be taken
      // for the next request.
      if (outcome.keep_alive && !parser.is_done()) {
        outcome.keep_alive = false;
        outcome.linger = true;
      }
    }
    FinishRequest(context_, stream_, start, service::Door::kHttp, outcome.command,
                  {.client = peer_,
                   .command = error ? std::string_view("-")
                                    : std::string_view(parser.get().method_string()),
                   .name = outcome.name,
                   .status = outcome.status,
                   .cache = outcome.cache});
    handle_.busy = false;
    if (!outcome.keep_alive) {
      linger = outcome.linger;
      break;
    }
  }
  if (linger) co_await LingeringClose();
}

asio::awaitable<bool> HttpConnection::AwaitRequest() {
  if (buffer_.size() > 0) co_return true;  // a pipelined request is already here
  stream_.Enter(Stream::Phase::kIdle);
  if (!stream_.tls()) {
    // An idle keep-alive connection holds no buffer: wait for bytes, then read them.
    buffer_.shrink_to_fit();
    std::vector<char>().swap(body_buffer_);
    auto [wait_error] = co_await stream_.socket().async_wait(tcp::socket::wait_read, kNoThrow);
    if (wait_error) co_return false;
  }
  // Small: most requests fit. Beast reads the rest.
  constexpr std::size_t kFirstRead = 4096;
  auto [error, read] = co_await stream_.async_read_some(buffer_.prepare(kFirstRead), kNoThrow);
  buffer_.commit(read);
  co_return !error && read > 0;
}

Result<auth::Identity> HttpConnection::Identify(const RequestParser& parser) {
  std::string_view header = Header(parser, bhttp::field::authorization);
  if (header.empty()) return auth::Anonymous(context_.auth.get());
  std::optional<std::string> token = auth::TokenFromAuthorization(header);
  if (!token) return Status::Unauthenticated("Authorization wants Bearer TOKEN or Basic");
  return Authenticate(context_, *token, address_, peer_);
}

asio::awaitable<bool> HttpConnection::Allowed(RequestParser& parser, Outcome& outcome,
                                              auth::Action action, std::string_view name) {
  Status allowed = auth::Authorize(identity_, action, name);
  if (allowed.ok()) co_return true;
  co_await DiscardBody(parser, outcome);
  co_await SendAuthError(parser, outcome, allowed);
  co_return false;
}

asio::awaitable<void> HttpConnection::SendAuthError(const RequestParser& parser, Outcome& outcome,
                                                    const Status& status) {
  HeadOnly extra;
  if (status.code() == Code::kUnauthenticated) {
    // Browsers ask for a user name and password on Basic (any user, the token as password).
    extra.insert(bhttp::field::www_authenticate, "Bearer realm=\"ferry\"");
    extra.insert(bhttp::field::www_authenticate, "Basic realm=\"ferry\", charset=\"UTF-8\"");
  }
  if (status.code() == Code::kTooManyRequests) {
    // The same wait the native door's message gives: until the address's window ends.
    auto wait = context_.failures.Blocked(address_, auth::FailureLimiter::Clock::now());
    extra.set(bhttp::field::retry_after, std::to_string(std::max<long long>(1, wait.count())));
  }
  co_await SendText(parser, outcome, static_cast<bhttp::status>(status.number()),
                    "text/plain; charset=utf-8", fmt::format("{}\n", status.ToString()),
                    std::move(extra));
}

asio::awaitable<void> HttpConnection::Handle(RequestParser& parser, Outcome& outcome) {
  using Kind = http::Target::Kind;
  const auto& request = parser.get();
  bhttp::verb method = request.method();
  // Refined below for listings, metrics and health; a refused target counts by its method.
  if (method == bhttp::verb::get) outcome.command = service::Command::kGet;
  if (method == bhttp::verb::head) outcome.command = service::Command::kHead;
  if (method == bhttp::verb::put) outcome.command = service::Command::kPut;
  if (method == bhttp::verb::delete_) outcome.command = service::Command::kDelete;
  if (context_.stopping.load()) outcome.keep_alive = false;  // draining: "Connection: close"
  // Only a PUT reads its body; any other request's body is dropped here, so it is never
  // taken for the next request.
  if (method != bhttp::verb::put) co_await DiscardBody(parser, outcome);
  std::string_view target_text(request.target().data(), request.target().size());
  Result<http::Target> target = http::ParseTarget(target_text);
  if (target.ok() && target->kind == Kind::kFile) outcome.name = target->file->str();
  else if (target.ok() && target->kind == Kind::kFolder) outcome.name = target->folder;
  else {
    // What the client asked for, decoded (the access log escapes what it must).
    std::string_view path = target_text.substr(0, target_text.find('?'));
    Result<std::string> decoded = PercentDecode(path);
    outcome.name = decoded.ok() ? *decoded : std::string(path);
  }
  if (!target.ok()) {
    co_await DiscardBody(parser, outcome);
    co_return co_await SendError(parser, outcome, target.status());
  }
  Result<auth::Identity> who = Identify(parser);
  if (!who.ok()) {
    co_await DiscardBody(parser, outcome);
    co_return co_await SendAuthError(parser, outcome, who.status());
  }
  identity_ = std::move(*who);
  bool read_only_method = method == bhttp::verb::get || method == bhttp::verb::head;
  switch (target->kind) {
    case Kind::kFile: {
      const ObjectName& name = *target->file;
      auth::Action action = read_only_method ? auth::Action::kRead : auth::Action::kWrite;
      bool known_method = read_only_method || method == bhttp::verb::put || method == bhttp::verb::delete_;
      if (known_method && !co_await Allowed(parser, outcome, action, name.str())) co_return;
      if (read_only_method) co_return co_await HandleFile(parser, name, outcome);
      if (method == bhttp::verb::put) co_return co_await HandlePut(parser, name, outcome);
      if (method == bhttp::verb::delete_) co_return co_await HandleDelete(parser, name, outcome);
      break;
    }
    case Kind::kFolder:
      if (read_only_method) co_return co_await HandleFolder(parser, target->folder, outcome);
      break;
    case Kind::kMetrics:
      outcome.command = service::Command::kMetrics;
      if (read_only_method) {
        if (!co_await Allowed(parser, outcome, auth::Action::kAdmin, "")) co_return;
        std::string text = context_.metrics.RenderPrometheus(context_.service.Stats());
        co_return co_await SendText(parser, outcome, bhttp::status::ok,
                                    "text/plain; version=0.0.4; charset=utf-8", std::move(text));
      }
      break;
    case Kind::kHealth:
      outcome.command = service::Command::kHealth;
      if (read_only_method) {
        co_return co_await SendText(parser, outcome, bhttp::status::ok, "text/plain; charset=utf-8",
                                    "ok\n");
      }
      break;
    case Kind::kRedirectToFiles:
      if (read_only_method) {
        HeadOnly extra;
        extra.set(bhttp::field::location, "/files/");
        co_return co_await SendText(parser, outcome, bhttp::status::moved_permanently,
                                    "text/plain; charset=utf-8", "301 moved permanently: /files/\n",
                                    std::move(extra));
      }
      break;
    case Kind::kUnknown:
      co_await DiscardBody(parser, outcome);
      co_return co_await SendError(parser, outcome,
                                   Status::NotFound(fmt::format("no such path: {}", target_text)));
  }
  co_await DiscardBody(parser, outcome);
  HeadOnly allow;
  allow.set(bhttp::field::allow, target->kind == Kind::kFile ? "GET, HEAD, PUT, DELETE" : "GET, HEAD");
  co_await SendText(parser, outcome, bhttp::status::method_not_allowed, "text/plain; charset=utf-8",
                    fmt::format("405 method not allowed: {}\n", std::string_view(request.method_string())),
                    std::move(allow));
}

asio::awaitable<void> HttpConnection::HandleFile(RequestParser& parser, const ObjectName& name,
                                                 Outcome& outcome) {
  bool head = parser.get().method() == bhttp::verb::head;
  // A hot small file is answered from memory, on the loop; any other is opened on the pool.
  std::shared_ptr<const service::HotFile> hot = context_.service.FindHot(name);
  Result<service::OpenedFile> opened = Status::NotFound("not opened");
  if (!hot) opened = co_await Offload(context_.blocking_pool, [&] { return context_.service.Open(name); });
  if (!hot && !opened.ok()) {
    // A folder named without its final '/': send the browser there, as nginx does.
    if (opened.status().code() == Code::kNotFound || opened.status().code() == Code::kConflict) {
      std::string folder = name.str() + "/";
      auto listed = co_await Offload(context_.blocking_pool, [&] {
        return context_.service.List(folder);
      });
      if (listed.ok() && !listed->empty()) {
        HeadOnly extra;
        extra.set(bhttp::field::location, "/files/" + PercentEncode(folder));
        co_return co_await SendText(parser, outcome, bhttp::status::moved_permanently,
                                    "text/plain; charset=utf-8", "301 moved permanently\n",
                                    std::move(extra));
      }
    }
    co_return co_await SendError(parser, outcome, opened.status());
  }
  const protocol::FileEntry entry = hot ? hot->entry : opened->entry;
  std::string etag = http::EntityTag(*entry.checksum);
  http::ReadConditions conditions{Header(parser, bhttp::field::if_none_match),
                                  Header(parser, bhttp::field::if_modified_since),
                                  head ? std::string_view() : Header(parser, bhttp::field::range),
                                  Header(parser, bhttp::field::if_range)};
  http::ReadPlan plan = http::PlanRead(conditions, entry.size, entry.mtime, etag);

  HeadOnly response{static_cast<bhttp::status>(plan.status), 11};
  response.set(bhttp::field::etag, etag);
  response.set(bhttp::field::last_modified, http::FormatHttpDate(entry.mtime));
  response.set(bhttp::field::accept_ranges, "bytes");
  // An uploaded .html or .svg must not run script as this origin (whose page uploads).
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Content-Security-Policy", "sandbox");
  if (plan.status == 416) {
    response.set(bhttp::field::content_range, fmt::format("bytes */{}", entry.size));
    co_return co_await SendText(parser, outcome, bhttp::status::range_not_satisfiable,
                                "text/plain; charset=utf-8",
                                fmt::format("416 range not satisfiable: the file has {} bytes\n",
                                            entry.size),
                                std::move(response));
  }
  if (plan.status != 304) {
    response.set(bhttp::field::content_type, http::ContentTypeFor(name.str()));
    response.set(bhttp::field::content_length, std::to_string(plan.length));
    response.set("X-Checksum", entry.checksum->ToString());
  }
  if (plan.status == 206) {
    response.set(bhttp::field::content_range,
                 fmt::format("bytes {}-{}/{}", plan.offset, plan.offset + plan.length - 1, entry.size));
  }
  outcome.status = plan.status;
  AddCommonHeaders(response, parser, outcome.keep_alive);
  if (head || plan.status == 304) {
    if (!co_await WriteHeader(response)) outcome.keep_alive = false;
    co_return;
  }
  if (hot) {
    outcome.cache = "memory";
    response.set("X-Cache", "HIT");
    bhttp::response<bhttp::span_body<const char>> whole(
        std::move(response.base()), bhttp::span_body<const char>::value_type(hot->bytes.data() + plan.offset,
                                                             static_cast<std::size_t>(plan.length)));
    context_.service.RecordHotGet(*hot, plan.length);
    stream_.Enter(Stream::Phase::kBody);
    auto [error, written] = co_await bhttp::async_write(stream_, whole, kNoThrow);  // one writev
    stream_.Sent(written);
    if (error) {
      outcome.keep_alive = false;
      co_return;
    }
    context_.metrics.AddBytes(service::Door::kHttp, 0, plan.length);
    co_return;
  }
  // Now the bytes: from the cache when it holds this version, else the data store (and a fill).
  auto download = co_await Offload(context_.blocking_pool, [&] {
    return context_.service.Get(std::move(*opened), plan.offset, plan.length);
  });
  if (!download.ok()) co_return co_await SendError(parser, outcome, download.status());
  response.set("X-Cache", download->cache_hit ? "HIT" : "MISS");
  outcome.cache = download->cache_hit ? "hit" : "miss";
  if (!co_await WriteHeader(response)) {
    outcome.keep_alive = false;
    co_return;
  }
  bool sent = co_await SendDownload(stream_, *download, context_.blocking_pool, body_buffer_, peer_);
  if (!sent) {
    outcome.keep_alive = false;
    co_return;
  }
  context_.metrics.AddBytes(service::Door::kHttp, 0, download->head.length);
}

asio::awaitable<void> HttpConnection::HandleFolder(RequestParser& parser, const std::string& folder,
                                                   Outcome& outcome) {
  outcome.command = service::Command::kList;
  Result<std::string> listed = auth::AuthorizeList(identity_, folder);
  if (!listed.ok()) co_return co_await SendAuthError(parser, outcome, listed.status());
  // A token confined to a prefix sees only its part of the folder.
  auto entries = co_await Offload(context_.blocking_pool, [&] {
    return context_.service.List(*listed);
  });
  if (!entries.ok()) co_return co_await SendError(parser, outcome, entries.status());
  if (entries->empty() && !folder.empty()) {
    co_return co_await SendError(parser, outcome,
                                 Status::NotFound(fmt::format("no files under {}", folder)));
  }
  http::FolderView view = http::BuildFolderView(folder, std::move(*entries));
  bool json = Header(parser, bhttp::field::accept).find("application/json") != std::string_view::npos;
  HeadOnly extra;
  extra.set(bhttp::field::vary, "Accept");
  extra.set(bhttp::field::cache_control, "no-cache");
  if (json) {
    co_return co_await SendText(parser, outcome, bhttp::status::ok, "application/json",
                                http::RenderListingJson(view), std::move(extra));
  }
  co_await SendText(parser, outcome, bhttp::status::ok, "text/html; charset=utf-8",
                    http::RenderListingHtml(view), std::move(extra));
}

asio::awaitable<void> HttpConnection::HandlePut(RequestParser& parser, const ObjectName& name,
                                                Outcome& outcome) {
  // No Content-Length and not chunked: an empty body (RFC 9112 6.3).
  std::optional<std::uint64_t> size;
  if (parser.content_length()) {
    size = *parser.content_length();
  } else if (!parser.chunked()) {
    size = 0;
  }
  std::optional<Checksum> expected;
  if (std::string_view text = Header(parser, "X-Checksum"); !text.empty()) {
    expected = Checksum::Parse(text);
    if (!expected) {
      co_await DiscardBody(parser, outcome);
      co_return co_await SendError(
          parser, outcome,
          Status::BadRequest(fmt::format("X-Checksum '{}' is not xxh128:<32 hex> or sha256:<64 hex>",
                                         text.substr(0, 100))));
    }
  }
  auto upload = co_await Offload(context_.blocking_pool, [&] {
    return context_.service.Put(name, size, expected);
  });
  if (!upload.ok()) {
    co_await DiscardBody(parser, outcome);
    co_return co_await SendError(parser, outcome, upload.status());
  }
  // curl and others wait for this before sending a large body (HTTP/1.1 only: RFC 9110 10.1.1).
  if (ExpectsContinue(parser)) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    stream_.Enter(Stream::Phase::kBody);
    auto [error, written] = co_await asio::async_write(stream_, asio::buffer(kContinue), kNoThrow);
    stream_.Sent(written);
    if (error) {
      outcome.status = kClientGone;
      outcome.keep_alive = false;
      outcome.linger = false;
      co_return;
    }
    continue_sent_ = true;
  }
  body_buffer_.resize(kBodyChunk);
  // Beast reads at most what the buffer has room for: without room, 512 bytes per recv.
  // Room for the upload only, so idle keep-alive connections stay small.
  buffer_.reserve(kBodyChunk);
  struct ShrinkAfter {
    beast::flat_buffer& buffer;
    ~ShrinkAfter() { buffer.shrink_to_fit(); }
  } shrink_after{buffer_};
  while (!parser.is_done()) {
    parser.get().body().data = body_buffer_.data();
    parser.get().body().size = body_buffer_.size();
    stream_.Enter(Stream::Phase::kBody);
    auto [error, read] = co_await bhttp::async_read(stream_, buffer_, parser, kNoThrow);
    stream_.Received(read);
    if (error && error != bhttp::error::need_buffer) {
      // The client went away (or broke the chunked framing): nothing of the upload stays.
      spdlog::info("{} HTTP PUT {}: {} after {} bytes; nothing stored", peer_, name.str(),
                   error.message(), (*upload)->received());
      outcome.status = kClientGone;
      outcome.keep_alive = false;
      outcome.linger = false;
      co_return;
    }
    std::size_t got = body_buffer_.size() - parser.get().body().size;
    if (got == 0) continue;
    Status appended = co_await Offload(context_.blocking_pool, [&] {
      return (*upload)->Append({body_buffer_.data(), got});
    });
    if (!appended.ok()) {
      upload->reset();  // nothing of it stays
      co_await DiscardBody(parser, outcome);
      co_return co_await SendError(parser, outcome, appended);
    }
  }
  bool replaces = (*upload)->replaces();
  auto done = co_await Offload(context_.blocking_pool, [&] { return (*upload)->Commit(); });
  if (!done.ok()) co_return co_await SendError(parser, outcome, done.status());
  spdlog::debug("{} HTTP PUT {} {} bytes", peer_, name.str(), done->size);
  context_.metrics.AddBytes(service::Door::kHttp, done->size, 0);
  HeadOnly extra;
  extra.set(bhttp::field::etag, http::EntityTag(done->checksum));
  extra.set("X-Checksum", done->checksum.ToString());
  bhttp::status status = bhttp::status::ok;
  if (!replaces) {
    status = bhttp::status::created;
    extra.set(bhttp::field::location, "/files/" + name.ToWire());
  }
  co_await SendText(parser, outcome, status,
                    "text/plain; charset=utf-8",
                    fmt::format("stored {}: {} bytes, {}\n", name.str(), done->size,
                                done->checksum.ToString()),
                    std::move(extra));
}

asio::awaitable<void> HttpConnection::HandleDelete(const RequestParser& parser,
                                                  const ObjectName& name, Outcome& outcome) {
  Status removed = co_await Offload(context_.blocking_pool, [&] { return context_.service.Delete(name); });
  if (!removed.ok()) co_return co_await SendError(parser, outcome, removed);
  HeadOnly response{bhttp::status::no_content, 11};
  AddCommonHeaders(response, parser, outcome.keep_alive);
  outcome.status = 204;
  if (!co_await WriteHeader(response)) outcome.keep_alive = false;
}

void HttpConnection::AddCommonHeaders(HeadOnly& response, const RequestParser& parser,
                                      bool keep_alive) const {
  response.version(parser.get().version() == 10 ? 10 : 11);
  response.set(bhttp::field::server, "ferryd/" FERRY_VERSION);
  response.set(bhttp::field::date, CurrentHttpDate());
  response.keep_alive(keep_alive);
}

asio::awaitable<bool> HttpConnection::WriteHeader(HeadOnly& response) {
  // An empty_body message writes its header only; Content-Length stays what was set.
  bhttp::response_serializer<bhttp::empty_body> serializer(response);
  stream_.Enter(Stream::Phase::kBody);
  auto [error, written] = co_await bhttp::async_write_header(stream_, serializer, kNoThrow);
  stream_.Sent(written);
  co_return !error;
}

asio::awaitable<void> HttpConnection::SendText(const RequestParser& parser, Outcome& outcome,
                                               bhttp::status status, std::string_view content_type,
                                               std::string text, HeadOnly extra) {
  extra.result(status);
  extra.set(bhttp::field::content_type, content_type);
  extra.set(bhttp::field::content_length, std::to_string(text.size()));
  AddCommonHeaders(extra, parser, outcome.keep_alive);
  outcome.status = static_cast<int>(status);
  if (!co_await WriteHeader(extra)) {
    outcome.keep_alive = false;
    co_return;
  }
  if (parser.get().method() == bhttp::verb::head || text.empty()) co_return;
  auto [error, written] = co_await asio::async_write(stream_, asio::buffer(text), kNoThrow);
  stream_.Sent(written);
  if (error) outcome.keep_alive = false;
}

asio::awaitable<void> HttpConnection::SendError(const RequestParser& parser, Outcome& outcome,
                                                const Status& status) {
  if (status.code() >= Code::kInternal) {
    spdlog::warn("{} HTTP {} {}: {}", peer_, std::string_view(parser.get().method_string()),
                 std::string_view(parser.get().target()), status.ToString());
  }
  // The same codes as the native protocol's ERR lines, with the same short text.
  std::string text = fmt::format("{}\n", status.ToString());
  co_await SendText(parser, outcome, static_cast<bhttp::status>(status.number()),
                    "text/plain; charset=utf-8", std::move(text));
}

asio::awaitable<void> HttpConnection::DiscardBody(RequestParser& parser, Outcome& outcome) {
  if (parser.is_done()) co_return;
  boost::optional<std::uint64_t> length = parser.content_length();
  bool waiting_for_continue = ExpectsContinue(parser) && !continue_sent_;
  if (waiting_for_continue || !length || *length > kMaxDrainBytes) {
    // Waiting for 100 Continue, the client has sent nothing: closing is clean. Else the
    // body may be on its way: read it off before closing so it does not reset the reply.
    outcome.keep_alive = false;
    outcome.linger = !waiting_for_continue;
    co_return;
  }
  char sink[8192];
  while (!parser.is_done()) {
    parser.get().body().data = sink;
    parser.get().body().size = sizeof sink;
    stream_.Enter(Stream::Phase::kBody);
    auto [error, read] = co_await bhttp::async_read(stream_, buffer_, parser, kNoThrow);
    stream_.Received(read);
    if (error && error != bhttp::error::need_buffer) {
      outcome.keep_alive = false;
      co_return;
    }
  }
}

asio::awaitable<void> HttpConnection::LingeringClose() {
  // On the TCP socket beneath any TLS: what arrives now is dropped unread anyway.
  tcp::socket& socket = stream_.socket();
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  stream_.Enter(Stream::Phase::kWorking);  // the linger has its own deadline
  asio::steady_timer deadline(socket.get_executor());
  deadline.expires_after(kLingerTime);
  // The handler may already be queued when the read loop ends; then the socket may be gone.
  auto alive = std::make_shared<bool>(true);
  deadline.async_wait([&socket, alive](error_code e) {
    error_code cancel_error;
    if (!e && *alive) socket.cancel(cancel_error);
  });
  char sink[8192];
  while (true) {
    auto [error, read] = co_await socket.async_read_some(asio::buffer(sink), kNoThrow);
    if (error) break;
  }
  *alive = false;
  deadline.cancel();
}

}  // namespace

asio::awaitable<void> RunHttpSession(SessionContext context, tcp::socket socket,
                                     std::list<SessionHandle>& registry,
                                     [[maybe_unused]] ConnectionLimiter::Ticket ticket) {
  Stream stream(std::move(socket), context.limits);
  SessionRegistration registration(registry, stream.socket(), context.metrics, service::Door::kHttp);
  std::string peer = PeerName(stream.socket());
  if (co_await StartSession(context, stream, peer)) {
    HttpConnection connection(context, stream, registration.handle(), peer);
    co_await connection.Run();
  }
  if (stream.timed_out()) spdlog::info("{} closed: {}", peer, stream.timed_out());
  co_await stream.Close();
}

}  // namespace ferry::server
