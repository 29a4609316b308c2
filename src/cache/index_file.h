// The cache index on disk: a snapshot (one line per copy, least recently used first) and an
// append-only journal of copies added and removed since. Formatting and parsing are pure, so
// they are tested (and fuzzable) without a cache; Cache owns the files.
//
//   snapshot:  "ferry-cache-index 1", then "<hits> <allocated> <size> <mtime_ns> <inode>
//              <checksum> <name>" per copy
//   journal:   "A <checksum> <name>" (a copy is about to be renamed into place; written and
//              synced first, so a crash never leaves a copy the index does not know), and
//              "E <name>" (a copy was removed)
// Names are percent-encoded, so a line is always one line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/checksum.h"
#include "store/store.h"

namespace ferry::cache {

inline constexpr std::string_view kSnapshotHeader = "ferry-cache-index 1";

struct SavedCopy {
  std::string name;  // decoded
  Checksum checksum;
  unsigned hits = 0;
  store::FileVersion version;  // size, mtime_ns, inode, allocated_bytes
};

std::string FormatSnapshotLine(const SavedCopy& copy);  // with its "\n"
std::optional<SavedCopy> ParseSnapshotLine(std::string_view line);

struct JournalRecord {
  enum class Kind { kAdded, kRemoved };
  Kind kind = Kind::kAdded;
  std::string name;   // decoded
  Checksum checksum;  // kAdded only
};

std::string FormatJournalRecord(const JournalRecord& record);  // with its "\n"
std::optional<JournalRecord> ParseJournalRecord(std::string_view line);

}  // namespace ferry::cache
