#include "bench/load.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "common/address.h"
#include "common/checksum.h"
#include "common/object_name.h"
#include "common/units.h"
#include "protocol/reply.h"

namespace ferry::bench {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxErrorSamples = 5;
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::uint64_t kMaxKeys = 10'000'000;
// After --duration, replies still in flight get this long before their connections are cut.
constexpr std::chrono::seconds kGrace{30};

// What every connection of the run shares; read-only once the run starts, but for the atomics
// and the lazily filled table of expected checksums.
struct Shared {
  const LoadOptions& options;
  KeyChooser chooser;
  std::vector<std::string> requests;  // per key: its GET request (line, or HTTP head)
  std::vector<std::string> names;     // per key: its name
  std::string put_block;              // a PUT body is this block, repeated
  Checksum put_checksum;              // of options.size bytes of it
  Clock::time_point start;
  Clock::time_point deadline;  // no request starts after it
  Clock::duration interval{};  // with a rate: between two requests of one connection
  std::atomic<std::uint64_t> issued{0};

  std::mutex expected_mutex;
  std::map<std::uint64_t, std::optional<Checksum>> expected;  // by key; nullopt: unreadable

  Shared(const LoadOptions& o, std::uint64_t keys) : options(o), chooser(keys, o.zipf) {}

  // The number of the next request, or false when the run has issued all it should.
  bool TakeTicket(std::uint64_t& ticket) {
    if (options.requests == 0 && Clock::now() >= deadline) return false;
    ticket = issued.fetch_add(1, std::memory_order_relaxed);
    return options.requests == 0 || ticket < options.requests;
  }

  std::optional<Checksum> Expected(std::uint64_t key, ChecksumAlgo algo) {
    std::lock_guard lock(expected_mutex);
    auto [it, inserted] = expected.try_emplace(key);
    if (inserted) {
      int fd = ::open((options.verify_dir / names[key]).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        off_t size = ::lseek(fd, 0, SEEK_END);
        auto sum = ChecksumFd(fd, algo, 0, static_cast<std::uint64_t>(std::max<off_t>(size, 0)));
        if (sum.ok()) it->second = *sum;
        ::close(fd);
      }
    }
    return it->second;
  }
};

// One event loop's share of the results.
struct ThreadResult {
  LoadReport report;
  std::mt19937_64 random;
};

class Connection {
 public:
  Connection(Shared& shared, ThreadResult& result, asio::io_context& io, unsigned index)
      : shared_(shared), options_(shared.options), result_(result), socket_(io), timer_(io),
        index_(index) {}

  asio::awaitable<void> Run(tcp::endpoint endpoint);
  void Cut() {
    cut_ = true;
    error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
  }

 private:
  struct Pending {
    Op op;
    std::uint64_t key;
    Clock::time_point due;
    bool verify;
  };
  // kRefused: an error reply or a failed check, the connection still in step; kBroken: the
  // connection is out of step or gone.
  enum class Outcome { kOk, kRefused, kBroken };

  asio::awaitable<bool> Connect(const tcp::endpoint& endpoint);
  asio::awaitable<bool> Send(const std::string& requests, bool put_body);
  std::string Request(const Pending& pending) const;
  // Reads more bytes into in_ (compacting first); false on end of stream or error.
  asio::awaitable<bool> Fill();
  // The next line without its ending, or nullopt if the connection broke.
  asio::awaitable<std::optional<std::string>> ReadLine();
  // Consumes `length` body bytes, feeding them to `hasher` if set.
  asio::awaitable<bool> ReadBody(std::uint64_t length, Hasher* hasher);
  asio::awaitable<Outcome> ReadReply(const Pending& pending);
  asio::awaitable<Outcome> ReadNativeGet(const Pending& pending);
  asio::awaitable<Outcome> ReadHttpGet(const Pending& pending);
  // GET body checks: the body's own checksum against the reply's and the local copy's.
  bool CheckBody(const Pending& pending, std::optional<Checksum> claimed, Hasher& hasher);
  // Keeps `message` as a sample of what went wrong (the failed request is counted by Run).
  void Error(std::string message);

  Shared& shared_;
  const LoadOptions& options_;
  ThreadResult& result_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  unsigned index_;
  bool cut_ = false;      // the run's time limit closed the socket
  bool closing_ = false;  // an HTTP reply said Connection: close
  // Allocated when the connection opens and left uninitialized: only the pages a read touches
  // cost memory, so 10,000 connections of 4 KiB replies do not hold 256 KiB each.
  std::unique_ptr<char[]> in_;
  std::size_t in_size_ = 0;
  std::size_t begin_ = 0, end_ = 0;  // unread received bytes
};

void Connection::Error(std::string message) {
  if (result_.report.error_samples.size() < kMaxErrorSamples) {
    result_.report.error_samples.push_back(std::move(message));
  }
}

asio::awaitable<bool> Connection::Connect(const tcp::endpoint& endpoint) {
  error_code ignored;
  socket_.close(ignored);
  begin_ = end_ = 0;
  if (!in_) {
    in_size_ = options_.read_size;
    in_ = std::make_unique_for_overwrite<char[]>(in_size_);
  }
  auto [error] = co_await socket_.async_connect(endpoint, kNoThrow);
  if (error) {
    ++result_.report.errors;  // a connection that could not open counts as a failure
    Error(fmt::format("connect to {}: {}", options_.server, error.message()));
    co_return false;
  }
  socket_.set_option(tcp::no_delay(true), ignored);
  if (options_.http || options_.token.empty()) co_return true;
  std::optional<std::string> line;
  if (co_await Send("AUTH " + options_.token + "\n", false)) line = co_await ReadLine();
  if (line) {
    auto fields = protocol::ParseReplyLine(*line);
    if (fields.ok()) co_return true;
    Error("AUTH: " + fields.status().ToString());
  }
  ++result_.report.errors;
  co_return false;
}

std::string Connection::Request(const Pending& pending) const {
  switch (pending.op) {
    case Op::kGet:
      return shared_.requests[pending.key];
    case Op::kPut:
      return fmt::format("PUT {} {} {}\n", PercentEncode(shared_.names[pending.key]),
                         options_.size, shared_.put_checksum.ToString());
    case Op::kList:
      return "LIST " + PercentEncode(options_.prefix) + "\n";
  }
  return {};
}

asio::awaitable<bool> Connection::Send(const std::string& requests, bool put_body) {
  auto [error, written] = co_await asio::async_write(socket_, asio::buffer(requests), kNoThrow);
  std::uint64_t remaining = put_body ? options_.size : 0;
  while (!error && remaining > 0) {
    std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, shared_.put_block.size()));
    std::tie(error, written) =
        co_await asio::async_write(socket_, asio::buffer(shared_.put_block.data(), chunk), kNoThrow);
    remaining -= chunk;
    result_.report.bytes_out += written;
  }
  if (error) Error("send: " + error.message());
  co_return !error;
}

asio::awaitable<bool> Connection::Fill() {
  if (begin_ > 0) {
    std::memmove(in_.get(), in_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  auto [error, received] =
      co_await socket_.async_read_some(asio::buffer(in_.get() + end_, in_size_ - end_), kNoThrow);
  end_ += received;
  if (error) Error(cut_ ? std::string("cut by the run's time limit") : "receive: " + error.message());
  co_return !error && received > 0;
}

asio::awaitable<std::optional<std::string>> Connection::ReadLine() {
  while (true) {
    const char* first = in_.get() + begin_;
    const char* newline = static_cast<const char*>(std::memchr(first, '\n', end_ - begin_));
    if (newline != nullptr) {
      std::string line(first, newline);
      begin_ += line.size() + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      co_return line;
    }
    if (end_ - begin_ >= std::min(in_size_, kMaxHeaderBytes)) {
      Error("a reply line longer than the read buffer");
      co_return std::nullopt;
    }
    if (!co_await Fill()) co_return std::nullopt;
  }
}

asio::awaitable<bool> Connection::ReadBody(std::uint64_t length, Hasher* hasher) {
  while (length > 0) {
    if (begin_ == end_) {
      begin_ = end_ = 0;
      if (!co_await Fill()) co_return false;
    }
    auto taken = static_cast<std::size_t>(std::min<std::uint64_t>(length, end_ - begin_));
    if (hasher != nullptr) hasher->Update(in_.get() + begin_, taken);
    begin_ += taken;
    length -= taken;
    result_.report.bytes_in += taken;
  }
  co_return true;
}

bool Connection::CheckBody(const Pending& pending, std::optional<Checksum> claimed, Hasher& hasher) {
  ChecksumAlgo algo = hasher.algo();
  Checksum got = hasher.Finish();
  ++result_.report.verified;
  std::optional<Checksum> expected = claimed;
  if (!options_.verify_dir.empty()) {
    std::optional<Checksum> local = shared_.Expected(pending.key, algo);
    if (!local) {
      Error(fmt::format("verify: cannot read {} in {}", shared_.names[pending.key],
                        options_.verify_dir.string()));
      return false;
    }
    if (claimed && *claimed != *local) {
      ++result_.report.verify_failures;
      Error(fmt::format("verify: {}: the reply claims {}, the local copy is {}",
                        shared_.names[pending.key], claimed->ToString(), local->ToString()));
      return false;
    }
    expected = local;
  }
  if (expected && got != *expected) {
    ++result_.report.verify_failures;
    Error(fmt::format("verify: {}: the body's checksum is {}, expected {}", shared_.names[pending.key],
                      got.ToString(), expected->ToString()));
    return false;
  }
  return true;
}

asio::awaitable<Connection::Outcome> Connection::ReadNativeGet(const Pending& pending) {
  std::optional<std::string> line = co_await ReadLine();
  if (!line) co_return Outcome::kBroken;
  Result<protocol::GetHead> head = protocol::ParseGetHead(*line);
  if (!head.ok()) {
    Error(fmt::format("GET {}: {}", shared_.names[pending.key], head.status().ToString()));
    co_return Outcome::kRefused;
  }
  std::optional<Hasher> hasher;
  if (pending.verify) hasher.emplace(head->checksum.algo);
  if (!co_await ReadBody(head->length, hasher ? &*hasher : nullptr)) co_return Outcome::kBroken;
  if (hasher && head->length == head->size && !CheckBody(pending, head->checksum, *hasher)) {
    co_return Outcome::kRefused;
  }
  co_return Outcome::kOk;
}

asio::awaitable<Connection::Outcome> Connection::ReadHttpGet(const Pending& pending) {
  std::optional<std::string> status_line = co_await ReadLine();
  if (!status_line) co_return Outcome::kBroken;
  std::optional<std::uint64_t> content_length;
  bool close = false;
  while (true) {
    std::optional<std::string> header = co_await ReadLine();
    if (!header) co_return Outcome::kBroken;
    if (header->empty()) break;
    std::string lower = *header;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::uint64_t value = 0;
    if (lower.starts_with("content-length:")) {
      std::string_view text = std::string_view(lower).substr(15);
      while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
      while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
      if (ParseUint(text, value)) content_length = value;
    } else if (lower.starts_with("connection:") && lower.find("close") != std::string::npos) {
      close = true;
    }
  }
  if (!content_length) {
    Error(fmt::format("GET {}: a reply without Content-Length ({})", shared_.names[pending.key], *status_line));
    co_return Outcome::kBroken;
  }
  std::string_view status = *status_line;
  bool ok = (status.starts_with("HTTP/1.1 200") || status.starts_with("HTTP/1.0 200")) &&
            (status.size() == 12 || status[12] == ' ');
  std::optional<Hasher> hasher;
  if (ok && pending.verify && !options_.verify_dir.empty()) hasher.emplace(ChecksumAlgo::kXxh128);
  if (!co_await ReadBody(*content_length, hasher ? &*hasher : nullptr)) co_return Outcome::kBroken;
  if (!ok) {
    Error(fmt::format("GET {}: {}", shared_.names[pending.key], *status_line));
  } else if (hasher && !CheckBody(pending, std::nullopt, *hasher)) {
    ok = false;
  }
  closing_ = close;
  co_return ok ? Outcome::kOk : Outcome::kRefused;
}

asio::awaitable<Connection::Outcome> Connection::ReadReply(const Pending& pending) {
  if (options_.http) co_return co_await ReadHttpGet(pending);
  if (pending.op == Op::kGet) co_return co_await ReadNativeGet(pending);
  std::optional<std::string> line = co_await ReadLine();
  if (!line) co_return Outcome::kBroken;
  if (pending.op == Op::kPut) {
    Result<protocol::PutDone> done = protocol::ParsePutDone(*line);
    if (!done.ok()) {
      Error(fmt::format("PUT {}: {}", shared_.names[pending.key], done.status().ToString()));
      co_return Outcome::kRefused;
    }
    ++result_.report.verified;
    if (done->size != options_.size || done->checksum != shared_.put_checksum) {
      ++result_.report.verify_failures;
      Error(fmt::format("PUT {}: the server stored {} bytes with {}, sent {} with {}",
                        shared_.names[pending.key], done->size, done->checksum.ToString(),
                        options_.size, shared_.put_checksum.ToString()));
      co_return Outcome::kRefused;
    }
    co_return Outcome::kOk;
  }
  Result<std::size_t> count = protocol::ParseListHead(*line);
  if (!count.ok()) {
    Error("LIST: " + count.status().ToString());
    co_return Outcome::kRefused;
  }
  for (std::size_t i = 0; i < *count; ++i) {
    std::optional<std::string> entry = co_await ReadLine();
    if (!entry) co_return Outcome::kBroken;
    if (pending.verify && !protocol::ParseListEntry(*entry).ok()) {
      ++result_.report.verify_failures;
      Error("LIST: a malformed entry: " + *entry);
      co_return Outcome::kBroken;
    }
  }
  if (pending.verify) ++result_.report.verified;
  co_return Outcome::kOk;
}

asio::awaitable<void> Connection::Run(tcp::endpoint endpoint) {
  LoadReport& report = result_.report;
  if (!co_await Connect(endpoint)) co_return;
  // With a rate, the connections' schedules are staggered so their requests interleave.
  Clock::time_point next_due =
      shared_.start + shared_.interval * index_ / std::max(1u, options_.connections);
  std::deque<Pending> pending;
  while (true) {
    std::string batch;
    bool put_body = false;
    while (pending.size() < options_.pipeline && !put_body) {
      std::uint64_t ticket = 0;
      if (!shared_.TakeTicket(ticket)) break;
      Pending next{.op = options_.mix.Pick(std::uniform_int_distribution<std::uint64_t>(
                       0, options_.mix.total() - 1)(result_.random)),
                   .key = options_.sequential ? ticket % shared_.chooser.keys()
                                              : shared_.chooser.Next(result_.random),
                   .verify = options_.verify_every > 0 && ticket % options_.verify_every == 0};
      if (options_.rate > 0) {
        if (next_due > Clock::now()) {
          timer_.expires_at(next_due);
          co_await timer_.async_wait(kNoThrow);
        }
        next.due = next_due;
        next_due += shared_.interval;
      } else {
        next.due = Clock::now();
      }
      batch += Request(next);
      put_body = next.op == Op::kPut;  // its body follows its line at once
      pending.push_back(next);
    }
    if (pending.empty()) break;
    if (!batch.empty() && !co_await Send(batch, put_body)) break;
    Outcome outcome = co_await ReadReply(pending.front());
    if (outcome == Outcome::kBroken) break;
    report.latency.Record(static_cast<std::uint64_t>((Clock::now() - pending.front().due).count()));
    ++report.requests;
    ++report.by_op[static_cast<int>(pending.front().op)];
    if (outcome == Outcome::kRefused) ++report.errors;
    pending.pop_front();
    if (closing_) {  // the server ends this connection: go on with a new one
      closing_ = false;
      if (!pending.empty() || !co_await Connect(endpoint)) break;
    }
  }
  // Each request sent but not answered (the connection broke, or a reply was out of step)
  // counts once as a failure.
  for (const Pending& lost : pending) {
    ++report.requests;
    ++report.errors;
    ++report.by_op[static_cast<int>(lost.op)];
  }
  error_code ignored;
  socket_.close(ignored);
}

Result<tcp::endpoint> Resolve(const std::string& server) {
  Result<HostPort> address = ParseHostPort(server);
  if (!address.ok()) return Status::BadRequest("--server: " + address.status().message());
  if (address->port == 0) return Status::BadRequest("--server: port 0 in '" + server + "'");
  const std::string& host = address->host;
  std::uint16_t port = address->port;
  asio::io_context io;
  tcp::resolver resolver(io);
  error_code error;
  auto results = resolver.resolve(host, std::to_string(port), error);
  if (error || results.empty()) {
    return Status::Busy(fmt::format("cannot resolve '{}': {}", host, error.message()));
  }
  return results.begin()->endpoint();
}

}  // namespace

Status CheckLoadOptions(const LoadOptions& o) {
  std::uint64_t keys = o.names.empty() ? o.keys : o.names.size();
  if (o.connections == 0 || o.connections > 100'000) return Status::BadRequest("-c: 1 to 100000 connections");
  if (o.threads == 0 || o.threads > 256) return Status::BadRequest("-t: 1 to 256 threads");
  if (o.pipeline == 0 || o.pipeline > 1024) return Status::BadRequest("--pipeline: 1 to 1024");
  if (o.rate < 0) return Status::BadRequest("--rate: requests per second, 0 for as fast as possible");
  if (o.rate > 0 && o.pipeline > 1) return Status::BadRequest("--rate paces single requests: use --pipeline 1");
  if (o.http && (o.mix.put > 0 || o.mix.list > 0)) return Status::BadRequest("--http: GET only");
  if (o.http && o.pipeline > 1) return Status::BadRequest("--http: no pipelining (--pipeline 1)");
  // A PUT's body goes out before its replies are read: a large one with replies queued behind
  // it would wait on the server while the server waits on us.
  if (o.mix.put > 0 && o.pipeline > 1 && o.size > (256u << 10)) {
    return Status::BadRequest("--pipeline above 1 takes PUTs of at most 256K");
  }
  if (o.mix.put > 0 && !o.verify_dir.empty()) {
    return Status::BadRequest("--verify-dir cannot check files that the run's PUTs change");
  }
  if (keys == 0 || keys > kMaxKeys) return Status::BadRequest("--keys: 1 to 10000000");
  if (o.requests == 0 && o.duration.count() <= 0) return Status::BadRequest("--duration: above 0");
  if (o.read_size < 4096 || o.read_size > (64u << 20)) return Status::BadRequest("--read-size: 4K to 64M");
  std::vector<std::string> examples = o.names;
  if (examples.empty()) examples.push_back(KeyName(o.prefix, 0));
  for (const std::string& name : examples) {
    if (auto checked = ObjectName::FromDecoded(name); !checked.ok()) {
      return Status::BadRequest("'" + name + "': " + checked.status().message());
    }
  }
  return Status::Ok();
}

Result<LoadReport> RunLoad(const LoadOptions& requested) {
  if (Status valid = CheckLoadOptions(requested); !valid.ok()) return valid;
  LoadOptions options = requested;
  options.threads = std::min(options.threads, options.connections);  // no thread without work
  std::uint64_t keys = options.names.empty() ? options.keys : options.names.size();
  Result<tcp::endpoint> endpoint = Resolve(options.server);
  if (!endpoint.ok()) return endpoint.status();
  {
    asio::io_context io;
    tcp::socket probe(io);
    error_code error;
    probe.connect(*endpoint, error);
    if (error) return Status::Busy(fmt::format("cannot connect to {}: {}", options.server, error.message()));
  }

  Shared shared(options, keys);
  shared.names.reserve(keys);
  shared.requests.reserve(keys);
  for (std::uint64_t key = 0; key < keys; ++key) {
    std::string name = options.names.empty() ? KeyName(options.prefix, key) : options.names[key];
    if (options.http) {
      std::string auth = options.token.empty() ? "" : "Authorization: Bearer " + options.token + "\r\n";
      shared.requests.push_back(fmt::format("GET {}{} HTTP/1.1\r\nHost: {}\r\n{}\r\n", options.http_path,
                                            PercentEncode(name), options.server, auth));
    } else {
      shared.requests.push_back("GET " + PercentEncode(name) + "\n");
    }
    shared.names.push_back(std::move(name));
  }
  if (options.mix.put > 0) {
    std::mt19937_64 random(options.seed);
    shared.put_block.resize(static_cast<std::size_t>(std::clamp<std::uint64_t>(options.size, 1, 1u << 20)));
    for (char& byte : shared.put_block) byte = static_cast<char>(random());
    Hasher hasher(ChecksumAlgo::kXxh128);
    for (std::uint64_t left = options.size; left > 0;) {
      auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(left, shared.put_block.size()));
      hasher.Update(shared.put_block.data(), chunk);
      left -= chunk;
    }
    shared.put_checksum = hasher.Finish();
  }
  if (options.rate > 0) {
    shared.interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(options.connections / options.rate));
  }

  std::vector<std::unique_ptr<asio::io_context>> loops;
  std::vector<ThreadResult> results(options.threads);
  std::vector<std::unique_ptr<Connection>> connections;
  for (unsigned t = 0; t < options.threads; ++t) {
    loops.push_back(std::make_unique<asio::io_context>(1));
    results[t].random.seed(options.seed * 1'000'003 + t);
  }
  for (unsigned i = 0; i < options.connections; ++i) {
    unsigned t = i % options.threads;
    connections.push_back(std::make_unique<Connection>(shared, results[t], *loops[t], i));
  }
  shared.start = Clock::now();
  shared.deadline = shared.start + options.duration;
  // The whole run is bounded: --timeout, or the duration and a grace for replies in flight.
  Clock::time_point hard_stop =
      shared.start + (options.requests > 0 ? Clock::duration(options.timeout)
                                           : Clock::duration(options.duration) + kGrace);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < options.threads; ++t) {
    threads.emplace_back([&, t] {
      asio::io_context& io = *loops[t];
      // The whole run is bounded: at the hard stop every connection of this loop is cut.
      asio::steady_timer watchdog(io, hard_stop);
      watchdog.async_wait([&](error_code error) {
        if (error) return;
        for (unsigned i = t; i < options.connections; i += options.threads) connections[i]->Cut();
      });
      unsigned live = 0;
      for (unsigned i = t; i < options.connections; i += options.threads) {
        ++live;
        asio::co_spawn(io, connections[i]->Run(*endpoint), [&](const std::exception_ptr& failure) {
          if (failure) {
            ++results[t].report.errors;
            results[t].report.error_samples.push_back("a connection failed unexpectedly");
          }
          if (--live == 0) watchdog.cancel();
        });
      }
      io.run();
    });
  }
  for (std::thread& thread : threads) thread.join();
  LoadReport total;
  total.seconds = std::chrono::duration<double>(Clock::now() - shared.start).count();
  for (ThreadResult& result : results) {
    LoadReport& r = result.report;
    total.requests += r.requests;
    total.errors += r.errors;
    total.verified += r.verified;
    total.verify_failures += r.verify_failures;
    for (int op = 0; op < 3; ++op) total.by_op[op] += r.by_op[op];
    total.bytes_in += r.bytes_in;
    total.bytes_out += r.bytes_out;
    total.latency.Merge(r.latency);
    for (std::string& sample : r.error_samples) {
      if (total.error_samples.size() < kMaxErrorSamples) total.error_samples.push_back(std::move(sample));
    }
  }
  return total;
}

}  // namespace ferry::bench
