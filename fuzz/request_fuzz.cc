// request_fuzz: the native protocol's framing and request lines (protocol/line_reader.h,
// protocol/request.h). The input is a byte stream as a client would send it.
//
// Invariants:
//  - LineReader, fed the stream in pieces of any sizes (two splits per input), yields exactly
//    the events of a one-pass reference framer: a line per LF (one CR before it dropped), a
//    single kTooLong for a line over kMaxLineBytes, the bytes after a PUT line's exact size or
//    after a size-less PUT taken as its body; and it always has room to receive more;
//  - every refused line is a 400 or 403 whose ERR reply is one line;
//  - every accepted request frames its body as its fields say, and EncodeRequest(request) is
//    one line the server accepts (at most kMaxLineBytes) that parses to an equal request and
//    encodes to the same bytes.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "protocol/line_reader.h"
#include "protocol/reply.h"
#include "protocol/request.h"

namespace ferry::protocol {
namespace {

struct Framed {
  std::vector<std::pair<LineReader::Kind, std::string>> events;
  std::string body;  // every byte taken as a body, in order
  friend bool operator==(const Framed&, const Framed&) = default;
};

// The reference: the framing rules of line_reader.h, over the whole stream at once.
Framed ReferenceFraming(std::string_view stream) {
  Framed out;
  std::size_t pos = 0;
  while (pos < stream.size()) {
    std::size_t lf = stream.find('\n', pos);
    if (lf == std::string_view::npos) {
      // Without its LF a line may still gain a CR; past that it is too long whatever follows.
      if (stream.size() - pos > kMaxLineBytes + 1)
        out.events.emplace_back(LineReader::Kind::kTooLong, "");
      break;
    }
    std::string_view line = stream.substr(pos, lf - pos);
    pos = lf + 1;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.size() > kMaxLineBytes) {
      out.events.emplace_back(LineReader::Kind::kTooLong, "");
      continue;
    }
    out.events.emplace_back(LineReader::Kind::kLine, std::string(line));
    BodyFraming body = ParseRequest(line).body;
    if (body.kind == BodyFraming::Kind::kExact) {
      std::size_t take =
          static_cast<std::size_t>(std::min<std::uint64_t>(body.bytes, stream.size() - pos));
      out.body.append(stream.substr(pos, take));
      pos += take;
    } else if (body.kind == BodyFraming::Kind::kUntilEof) {
      out.body.append(stream.substr(pos));
      break;
    }
  }
  return out;
}

// Piece sizes from a small PRNG seeded by the stream, so each input is one reproducible split.
class Pieces {
 public:
  explicit Pieces(std::uint64_t seed) : state_(seed | 1) {}
  std::size_t Next() {
    switch (Random() % 4) {
      case 0:
        return 1;
      case 1:
        return 1 + Random() % 16;
      case 2:
        return 1 + Random() % 512;
      default:
        return 1 + Random() % (2 * kMaxLineBytes);
    }
  }

 private:
  std::uint64_t Random() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  std::uint64_t state_;
};

// The session's loop without the socket: receive a piece, then take lines and bodies.
template <typename NextPiece>
Framed FeedInPieces(std::string_view stream, NextPiece next_piece) {
  LineReader reader;
  Framed out;
  std::uint64_t body_left = 0;
  bool body_until_eof = false;
  auto drain = [&] {
    while (true) {
      if (body_until_eof) body_left = reader.Buffered().size();
      if (body_left > 0) {
        std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(body_left, reader.Buffered().size()));
        out.body.append(reader.Buffered().substr(0, take));
        reader.Consume(take);
        body_left -= take;
        if (body_left > 0 || body_until_eof) return;
      }
      LineReader::Event event = reader.Next();
      if (event.kind == LineReader::Kind::kNeedMore) return;
      FUZZ_CHECK(event.kind == LineReader::Kind::kLine || event.line.empty());
      out.events.emplace_back(event.kind, std::string(event.line));
      if (event.kind != LineReader::Kind::kLine) continue;
      BodyFraming body = ParseRequest(event.line).body;
      if (body.kind == BodyFraming::Kind::kExact) body_left = body.bytes;
      body_until_eof = body.kind == BodyFraming::Kind::kUntilEof;
    }
  };
  std::size_t pos = 0;
  while (pos < stream.size()) {
    std::span<char> space = reader.WritableSpace();
    FUZZ_CHECK(!space.empty());  // else the session would read zero bytes forever
    std::size_t n = std::min({next_piece(), space.size(), stream.size() - pos});
    std::memcpy(space.data(), stream.data() + pos, n);
    reader.Commit(n);
    pos += n;
    drain();
  }
  return out;
}

bool Same(const Request& a, const Request& b) {
  return a.command == b.command && a.name == b.name && a.prefix == b.prefix &&
         a.offset == b.offset && a.length == b.length && a.size == b.size &&
         a.checksum == b.checksum && a.resume == b.resume && a.token == b.token;
}

bool IsOneLine(std::string_view text) {
  return text.ends_with('\n') && text.find('\n') == text.size() - 1 &&
         text.find('\r') == std::string_view::npos;
}

void CheckRequestLine(std::string_view line) {
  ParsedLine parsed = ParseRequest(line);
  if (!parsed.request.ok()) {
    const Status& status = parsed.request.status();
    FUZZ_CHECK(status.code() == Code::kBadRequest || status.code() == Code::kForbidden);
    FUZZ_CHECK(!status.message().empty());
    FUZZ_CHECK(IsOneLine(EncodeError(status)));
    return;
  }
  const Request& request = *parsed.request;
  bool has_name = request.command == Command::kStat || request.command == Command::kGet ||
                  request.command == Command::kPut || request.command == Command::kDel;
  FUZZ_CHECK(request.name.has_value() == has_name);
  if (request.command == Command::kPut && request.resume) {
    FUZZ_CHECK(request.size && request.checksum);
    FUZZ_CHECK(parsed.body.kind == BodyFraming::Kind::kNone);  // bytes come after CONTINUE
  } else if (request.command == Command::kPut && request.size) {
    FUZZ_CHECK(parsed.body.kind == BodyFraming::Kind::kExact && parsed.body.bytes == *request.size);
  } else if (request.command == Command::kPut) {
    FUZZ_CHECK(parsed.body.kind == BodyFraming::Kind::kUntilEof);
  } else {
    FUZZ_CHECK(parsed.body.kind == BodyFraming::Kind::kNone);
  }

  std::string encoded = EncodeRequest(request);
  FUZZ_CHECK(IsOneLine(encoded));
  std::string_view encoded_line(encoded.data(), encoded.size() - 1);
  FUZZ_CHECK(encoded_line.size() <= kMaxLineBytes);  // a request we can hold, we can send
  ParsedLine again = ParseRequest(encoded_line);
  FUZZ_CHECK(again.request.ok());
  FUZZ_CHECK(Same(*again.request, request));
  FUZZ_CHECK(again.body.kind == parsed.body.kind && again.body.bytes == parsed.body.bytes);
  FUZZ_CHECK(EncodeRequest(*again.request) == encoded);
}

}  // namespace
}  // namespace ferry::protocol

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::protocol;
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  Framed expected = ReferenceFraming(stream);

  std::uint64_t seed = 1469598103934665603ull;  // FNV-1a of the stream
  for (char c : stream) seed = (seed ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  Pieces pieces(seed);
  FUZZ_CHECK(FeedInPieces(stream, [&] { return pieces.Next(); }) == expected);
  FUZZ_CHECK(FeedInPieces(stream, [] { return std::size_t{1} << 20; }) == expected);

  for (const auto& [kind, line] : expected.events) {
    if (kind == LineReader::Kind::kLine) CheckRequestLine(line);
  }
  return 0;
}
