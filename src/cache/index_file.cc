#include "cache/index_file.h"

#include <sstream>

#include <fmt/format.h>

#include "common/object_name.h"
#include "common/units.h"

namespace ferry::cache {
namespace {

std::optional<std::string> DecodeName(std::string_view wire) {
  auto name = ObjectName::FromWire(wire);
  if (!name.ok()) return std::nullopt;
  return name->str();
}

}  // namespace

std::string FormatSnapshotLine(const SavedCopy& copy) {
  const store::FileVersion& v = copy.version;
  return fmt::format("{} {} {} {} {} {} {}\n", copy.hits, v.allocated_bytes, v.size, v.mtime_ns,
                     v.inode, copy.checksum.ToString(), PercentEncode(copy.name));
}

std::optional<SavedCopy> ParseSnapshotLine(std::string_view line) {
  std::istringstream fields{std::string(line)};
  std::string hits, allocated, size, mtime, inode, checksum, wire, extra;
  if (!(fields >> hits >> allocated >> size >> mtime >> inode >> checksum >> wire) ||
      (fields >> extra)) {
    return std::nullopt;
  }
  SavedCopy copy;
  std::uint64_t number = 0, mtime_ns = 0;
  if (!ParseUint(hits, number) || !ParseUint(allocated, copy.version.allocated_bytes) ||
      !ParseUint(size, copy.version.size) || !ParseUint(mtime, mtime_ns) ||
      !ParseUint(inode, copy.version.inode)) {
    return std::nullopt;
  }
  copy.hits = static_cast<unsigned>(std::min<std::uint64_t>(number, 255));
  copy.version.mtime_ns = static_cast<std::int64_t>(mtime_ns);
  auto parsed = Checksum::Parse(checksum);
  auto name = DecodeName(wire);
  if (!parsed || !name) return std::nullopt;
  copy.checksum = *parsed;
  copy.name = std::move(*name);
  return copy;
}

std::string FormatJournalRecord(const JournalRecord& record) {
  if (record.kind == JournalRecord::Kind::kAdded) {
    return fmt::format("A {} {}\n", record.checksum.ToString(), PercentEncode(record.name));
  }
  return fmt::format("E {}\n", PercentEncode(record.name));
}

std::optional<JournalRecord> ParseJournalRecord(std::string_view line) {
  JournalRecord record;
  if (line.starts_with("A ")) {
    std::size_t space = line.find(' ', 2);
    if (space == std::string_view::npos) return std::nullopt;
    auto checksum = Checksum::Parse(line.substr(2, space - 2));
    auto name = DecodeName(line.substr(space + 1));
    if (!checksum || !name) return std::nullopt;
    record.checksum = *checksum;
    record.name = std::move(*name);
    return record;
  }
  if (line.starts_with("E ")) {
    auto name = DecodeName(line.substr(2));
    if (!name) return std::nullopt;
    record.kind = JournalRecord::Kind::kRemoved;
    record.name = std::move(*name);
    return record;
  }
  return std::nullopt;
}

}  // namespace ferry::cache
