// Incremental framing of request lines: bytes in; a line, "need more" or "too long" out.
//
// A line ends in LF (CRLF accepted) and holds at most kMaxLineBytes bytes before its ending.
// After a too-long line the reader skips to the next LF, so one bad request costs one
// `ERR 400` and the connection stays usable. No sockets here: the session reads into
// WritableSpace() and the tests and fuzzers feed any split of the bytes. Not thread-safe.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

namespace ferry::protocol {

// Enough for every request a client can make: the longest name (kMaxNameBytes), every byte of
// it percent-encoded, with a PUT's size, sha256 checksum and "resume" (request.cc checks).
inline constexpr std::size_t kMaxLineBytes = 16384;

class LineReader {
 public:
  enum class Kind { kLine, kNeedMore, kTooLong };
  struct Event {
    Kind kind;
    std::string_view line;  // for kLine: the line without its ending
  };

  // Free space at the end of the buffer (allocated, or grown for a long line, here); receive
  // into it, then Commit(received). Invalidates lines and Buffered() views returned before.
  std::span<char> WritableSpace();
  // Frees the buffer if it holds nothing unread: an idle connection then costs no buffer.
  void Release();
  void Commit(std::size_t received);

  // The next event. A kLine's view is valid until the next WritableSpace() or Consume().
  Event Next();

  // Received bytes not yet framed as lines: the start of a body that follows a request.
  std::string_view Buffered() const { return {buffer_.data() + begin_, end_ - begin_}; }
  // Drops the first `bytes` of Buffered(). REQUIRES: bytes <= Buffered().size().
  void Consume(std::size_t bytes) { begin_ += bytes; }

 private:
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // first unframed byte
  std::size_t end_ = 0;    // one past the last received byte
  bool skipping_ = false;  // inside a too-long line, dropping bytes up to its LF
};

}  // namespace ferry::protocol
