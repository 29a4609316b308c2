#include "protocol/line_reader.h"

#include <algorithm>
#include <cstring>

namespace ferry::protocol {

namespace {
// Enough for any ordinary request and a few pipelined ones; a longer line doubles the buffer,
// up to room for a maximal line, its CRLF and a good read's worth of requests after it.
constexpr std::size_t kInitialBytes = 4096;
constexpr std::size_t kMaxBytes = 2 * kMaxLineBytes;
}  // namespace

std::span<char> LineReader::WritableSpace() {
  if (begin_ == end_) {
    begin_ = end_ = 0;
  } else if (end_ == buffer_.size() && begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size() && buffer_.size() < kMaxBytes) {
    buffer_.resize(std::clamp(2 * buffer_.size(), kInitialBytes, kMaxBytes));
  }
  return {buffer_.data() + end_, buffer_.size() - end_};
}

void LineReader::Release() {
  if (begin_ != end_) return;
  std::vector<char>().swap(buffer_);
  begin_ = end_ = 0;
}

void LineReader::Commit(std::size_t received) { end_ += received; }

LineReader::Event LineReader::Next() {
  while (true) {
    if (begin_ == end_) return {Kind::kNeedMore, {}};  // (also: no buffer at all)
    const char* start = buffer_.data() + begin_;
    const void* found = std::memchr(start, '\n', end_ - begin_);
    if (found == nullptr) {
      if (skipping_) {
        begin_ = end_;
        return {Kind::kNeedMore, {}};
      }
      // Without its LF a line may still grow by a CR; longer than that it can no longer fit.
      if (end_ - begin_ > kMaxLineBytes + 1) {
        skipping_ = true;
        begin_ = end_;
        return {Kind::kTooLong, {}};
      }
      return {Kind::kNeedMore, {}};
    }
    auto length = static_cast<std::size_t>(static_cast<const char*>(found) - start);
    begin_ += length + 1;
    if (skipping_) {  // the tail of a too-long line, already reported
      skipping_ = false;
      continue;
    }
    if (length > 0 && start[length - 1] == '\r') --length;
    if (length > kMaxLineBytes) return {Kind::kTooLong, {}};
    return {Kind::kLine, {start, length}};
  }
}

}  // namespace ferry::protocol
