#include "protocol/reply.h"

#include <charconv>

#include <fmt/format.h>

#include "common/object_name.h"
#include "common/units.h"

namespace ferry::protocol {
namespace {

constexpr std::size_t kMaxMessageBytes = 1024;

Status Malformed(std::string_view line) {
  return Status::Internal(
      fmt::format("malformed reply from server: '{}'", PercentEncode(line.substr(0, 80))));
}

std::vector<std::string_view> Split(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t space = text.find(' ', start);
    if (space == std::string_view::npos) space = text.size();
    if (space > start) words.push_back(text.substr(start, space - start));
    start = space + 1;
  }
  return words;
}

Result<std::vector<std::string_view>> Fields(std::string_view line, std::size_t count) {
  Result<std::vector<std::string_view>> fields = ParseReplyLine(line);
  if (fields.ok() && fields->size() != count) return Malformed(line);
  return fields;
}

// Decimal Unix seconds, negative before 1970: a file's mtime may be any int64 (touch -d 1960).
bool ParseMtime(std::string_view text, std::int64_t& out) {
  if (text.empty() || text == "-" || text.starts_with("--")) return false;
  for (char c : text.substr(text.front() == '-' ? 1 : 0)) {
    if (c < '0' || c > '9') return false;
  }
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

bool ParseCachedMark(std::string_view text, bool& out) {
  if (text != "C" && text != "-") return false;
  out = text == "C";
  return true;
}

}  // namespace

std::string EncodeError(const Status& status) {
  std::string message = status.message().substr(0, kMaxMessageBytes);
  for (char& c : message) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  if (message.empty()) message = std::string(CodeReason(status.code()));
  return fmt::format("ERR {} {}\n", status.number(), message);
}

std::string EncodeOk() { return "OK\n"; }

std::string EncodeListHead(std::size_t count) { return fmt::format("OK {}\n", count); }

std::string EncodeListEntry(const FileEntry& entry) {
  return fmt::format("{} {} {} {}\n", entry.size, entry.mtime, entry.cached ? 'C' : '-',
                     PercentEncode(entry.name));
}

std::string EncodeStat(const FileEntry& entry) {
  return fmt::format("OK {} {} {} {}\n", entry.size, entry.mtime, entry.checksum->ToString(),
                     entry.cached ? 'C' : '-');
}

std::string EncodeGetHead(const GetHead& head) {
  return fmt::format("OK {} {} {}\n", head.length, head.size, head.checksum.ToString());
}

std::string EncodePutDone(const PutDone& done) {
  return fmt::format("OK {} {}\n", done.size, done.checksum.ToString());
}

std::string EncodeContinue(std::uint64_t offset) { return fmt::format("CONTINUE {}\n", offset); }

std::string EncodeStats(const std::vector<StatValue>& values) {
  std::string out = EncodeListHead(values.size());
  for (const StatValue& v : values) out += fmt::format("{} {}\n", v.name, v.value);
  return out;
}

Result<StatValue> ParseStatValue(std::string_view line) {
  std::vector<std::string_view> words = Split(line);
  if (words.size() != 2) return Malformed(line);
  return StatValue{std::string(words[0]), std::string(words[1])};
}

Result<std::vector<std::string_view>> ParseReplyLine(std::string_view line) {
  if (line == "OK") return std::vector<std::string_view>{};
  if (line.starts_with("OK ")) return Split(line.substr(3));
  if (line.starts_with("ERR ") && line.size() >= 7) {
    std::uint64_t number = 0;
    if (!ParseUint(line.substr(4, 3), number)) return Malformed(line);
    Code code = CodeFromNumber(static_cast<int>(number));
    // "ERR 200" is no error: a refusal carrying an OK status would read as success.
    if (code == Code::kOk) return Malformed(line);
    std::string_view message = line.size() > 8 ? line.substr(8) : std::string_view{};
    return Status(code, std::string(message));
  }
  return Malformed(line);
}

Result<std::size_t> ParseListHead(std::string_view line) {
  auto fields = Fields(line, 1);
  if (!fields.ok()) return fields.status();
  std::uint64_t count = 0;
  if (!ParseUint((*fields)[0], count)) return Malformed(line);
  return static_cast<std::size_t>(count);
}

Result<FileEntry> ParseListEntry(std::string_view line) {
  std::vector<std::string_view> words = Split(line);
  FileEntry entry;
  if (words.size() != 4 || !ParseUint(words[0], entry.size) || !ParseMtime(words[1], entry.mtime) ||
      !ParseCachedMark(words[2], entry.cached)) {
    return Malformed(line);
  }
  Result<std::string> name = PercentDecode(words[3]);
  if (!name.ok()) return Malformed(line);
  entry.name = std::move(*name);
  return entry;
}

Result<FileEntry> ParseStat(std::string_view line, std::string name) {
  auto fields = Fields(line, 4);
  if (!fields.ok()) return fields.status();
  FileEntry entry;
  entry.name = std::move(name);
  entry.checksum = Checksum::Parse((*fields)[2]);
  if (!ParseUint((*fields)[0], entry.size) || !ParseMtime((*fields)[1], entry.mtime) ||
      !entry.checksum || !ParseCachedMark((*fields)[3], entry.cached)) {
    return Malformed(line);
  }
  return entry;
}

Result<GetHead> ParseGetHead(std::string_view line) {
  auto fields = Fields(line, 3);
  if (!fields.ok()) return fields.status();
  GetHead head;
  auto checksum = Checksum::Parse((*fields)[2]);
  if (!ParseUint((*fields)[0], head.length) || !ParseUint((*fields)[1], head.size) || !checksum) {
    return Malformed(line);
  }
  head.checksum = std::move(*checksum);
  return head;
}

Result<PutDone> ParsePutDone(std::string_view line) {
  auto fields = Fields(line, 2);
  if (!fields.ok()) return fields.status();
  PutDone done;
  auto checksum = Checksum::Parse((*fields)[1]);
  if (!ParseUint((*fields)[0], done.size) || !checksum) return Malformed(line);
  done.checksum = std::move(*checksum);
  return done;
}

Result<std::uint64_t> ParseContinue(std::string_view line) {
  constexpr std::string_view kWord = "CONTINUE ";
  if (!line.starts_with(kWord)) {
    auto fields = ParseReplyLine(line);  // an ERR line's status, or "malformed"
    return fields.ok() ? Malformed(line) : fields.status();
  }
  std::uint64_t offset = 0;
  if (!ParseUint(line.substr(kWord.size()), offset)) return Malformed(line);
  return offset;
}

}  // namespace ferry::protocol
