// reply_fuzz: the native protocol's replies (protocol/reply.h), as the client parses them from
// a server it does not have to trust. The input is reply lines, one a line.
//
// Invariants:
//  - every parser takes any line without crashing; a refusal never carries an OK status (the
//    client would take "ERR 200" for success);
//  - whatever a parser accepts, its encoder writes back as a line that parses to the same
//    value (LIST head and entries, STAT, GET head, PUT done, CONTINUE, STATS);
//  - for values a server can hold (any size and offset up to 2^63-1, any mtime, any valid
//    name, either checksum), Encode* then Parse* gives them back exactly;
//  - EncodeError makes one line that ParseReplyLine reads back as the same code and message.
#include <array>
#include <limits>
#include <string>
#include <vector>

#include "common/object_name.h"
#include "fuzz/fuzz_check.h"
#include "protocol/reply.h"

namespace ferry::protocol {
namespace {

constexpr std::uint64_t kMaxSize = std::numeric_limits<std::int64_t>::max();

std::uint64_t Hash(std::string_view text, std::uint64_t seed) {
  std::uint64_t hash = 1469598103934665603ull ^ seed;
  for (char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return hash;
}

std::string_view WithoutNewline(const std::string& line) {
  FUZZ_CHECK(line.ends_with('\n') && line.find('\n') == line.size() - 1);
  return std::string_view(line).substr(0, line.size() - 1);
}

bool SameEntry(const FileEntry& a, const FileEntry& b) {
  return a.name == b.name && a.size == b.size && a.mtime == b.mtime && a.cached == b.cached &&
         a.checksum == b.checksum;
}

template <typename T>
void CheckRefusal(const Result<T>& result) {
  if (!result.ok()) FUZZ_CHECK(!result.status().ok());
}

// Any line through every parser: refusals are errors, acceptances round-trip.
void CheckLine(std::string_view line) {
  Result<std::vector<std::string_view>> fields = ParseReplyLine(line);
  CheckRefusal(fields);
  if (fields.ok()) {
    for (std::string_view field : *fields)
      FUZZ_CHECK(!field.empty() && field.find(' ') == std::string_view::npos);
  }
  Result<std::size_t> head = ParseListHead(line);
  CheckRefusal(head);
  if (head.ok()) FUZZ_CHECK(*ParseListHead(WithoutNewline(EncodeListHead(*head))) == *head);

  Result<FileEntry> entry = ParseListEntry(line);
  CheckRefusal(entry);
  if (entry.ok()) {
    Result<FileEntry> again = ParseListEntry(WithoutNewline(EncodeListEntry(*entry)));
    FUZZ_CHECK(again.ok() && SameEntry(*again, *entry));
  }
  Result<FileEntry> stat = ParseStat(line, "a/b");
  CheckRefusal(stat);
  if (stat.ok()) {
    Result<FileEntry> again = ParseStat(WithoutNewline(EncodeStat(*stat)), "a/b");
    FUZZ_CHECK(again.ok() && SameEntry(*again, *stat));
  }
  Result<GetHead> get = ParseGetHead(line);
  CheckRefusal(get);
  if (get.ok()) {
    Result<GetHead> again = ParseGetHead(WithoutNewline(EncodeGetHead(*get)));
    FUZZ_CHECK(again.ok() && again->length == get->length && again->size == get->size &&
               again->checksum == get->checksum);
  }
  Result<PutDone> put = ParsePutDone(line);
  CheckRefusal(put);
  if (put.ok()) {
    Result<PutDone> again = ParsePutDone(WithoutNewline(EncodePutDone(*put)));
    FUZZ_CHECK(again.ok() && again->size == put->size && again->checksum == put->checksum);
  }
  Result<std::uint64_t> offset = ParseContinue(line);
  CheckRefusal(offset);
  if (offset.ok()) FUZZ_CHECK(*ParseContinue(WithoutNewline(EncodeContinue(*offset))) == *offset);
  Result<StatValue> value = ParseStatValue(line);
  CheckRefusal(value);
}

// Values a server holds, written and read back.
void CheckValues(std::string_view line) {
  const std::array<std::int64_t, 6> mtimes = {
      0,
      -1,
      std::numeric_limits<std::int64_t>::min(),
      std::numeric_limits<std::int64_t>::max(),
      static_cast<std::int64_t>(Hash(line, 1)),
      -static_cast<std::int64_t>(Hash(line, 2) % 4'000'000'000)};
  const std::array<std::uint64_t, 3> sizes = {0, kMaxSize, Hash(line, 3) & kMaxSize};
  Hasher hasher(Hash(line, 4) % 2 == 0 ? ChecksumAlgo::kXxh128 : ChecksumAlgo::kSha256);
  hasher.Update(line);
  const Checksum checksum = hasher.Finish();
  Result<ObjectName> name = ObjectName::FromDecoded(line);
  for (std::int64_t mtime : mtimes) {
    for (std::uint64_t size : sizes) {
      FileEntry entry{.name = name.ok() ? name->str() : "x",
                      .size = size,
                      .mtime = mtime,
                      .cached = size % 2 == 1};
      Result<FileEntry> listed = ParseListEntry(WithoutNewline(EncodeListEntry(entry)));
      FUZZ_CHECK(listed.ok() && SameEntry(*listed, entry));
      entry.checksum = checksum;
      Result<FileEntry> stat = ParseStat(WithoutNewline(EncodeStat(entry)), entry.name);
      FUZZ_CHECK(stat.ok() && SameEntry(*stat, entry));
    }
  }
  std::uint64_t a = sizes[2], b = Hash(line, 5) & kMaxSize;
  Result<GetHead> get = ParseGetHead(WithoutNewline(EncodeGetHead({a, b, checksum})));
  FUZZ_CHECK(get.ok() && get->length == a && get->size == b && get->checksum == checksum);
  Result<PutDone> put = ParsePutDone(WithoutNewline(EncodePutDone({b, checksum})));
  FUZZ_CHECK(put.ok() && put->size == b && put->checksum == checksum);
  Result<std::uint64_t> resumed = ParseContinue(WithoutNewline(EncodeContinue(a)));
  FUZZ_CHECK(resumed.ok() && *resumed == a);

  for (Code code :
       {Code::kBadRequest, Code::kUnauthenticated, Code::kForbidden, Code::kNotFound,
        Code::kConflict, Code::kTooLarge, Code::kBadRange, Code::kChecksumMismatch,
        Code::kTooManyRequests, Code::kInternal, Code::kBusy, Code::kInsufficientStorage}) {
    std::string error = EncodeError(Status(code, std::string(line)));
    Result<std::vector<std::string_view>> parsed = ParseReplyLine(WithoutNewline(error));
    FUZZ_CHECK(!parsed.ok() && parsed.status().code() == code);
    std::string message = std::string(line.substr(0, 1024));
    for (char& c : message) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    if (message.empty()) message = std::string(CodeReason(code));
    FUZZ_CHECK(parsed.status().message() == message);
  }
}

}  // namespace
}  // namespace ferry::protocol

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ferry::fuzz::FuzzInput input(data, size);
  for (int lines = 0; !input.empty(); ++lines) {
    std::string_view line = input.Line();
    ferry::protocol::CheckLine(line);
    if (lines < 4) ferry::protocol::CheckValues(line);  // the costly part: a few lines suffice
  }
  return 0;
}
