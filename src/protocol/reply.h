// Replies of the native protocol v1 (docs/protocol.md): encoding for the server, parsing for
// the client, pure.
//
//   ERR <code> <message>
//   OK <count>                         LIST, then <count> lines "<size> <mtime> <C|-> <name>"
//   OK <size> <mtime> <checksum> <C|-> STAT
//   OK <length> <size> <checksum>      GET, then exactly <length> bytes
//   CONTINUE <offset>                  a resumable PUT: send the bytes from <offset> on
//   OK <size> <checksum>               PUT (once the file is durable)
//   OK <count>                         STATS, then <count> lines "<name> <value>"
//   OK                                 DEL, QUIT
// mtime is Unix time in seconds (negative before 1970); C marks a file that is in the server's
// cache right now.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/checksum.h"
#include "common/status.h"

namespace ferry::protocol {

// One file as LIST and STAT describe it.
struct FileEntry {
  std::string name;  // decoded
  std::uint64_t size = 0;
  std::int64_t mtime = 0;  // Unix seconds
  bool cached = false;
  std::optional<Checksum> checksum;  // STAT only
};

struct GetHead {
  std::uint64_t length = 0;  // bytes that follow
  std::uint64_t size = 0;    // of the whole file
  Checksum checksum;         // of the whole file
};

struct PutDone {
  std::uint64_t size = 0;
  Checksum checksum;
};

// One STATS counter: a name of [a-z_] and a value without spaces.
struct StatValue {
  std::string name;
  std::string value;
};

// "ERR <code> <message>\n". The message is cut to 1 KiB and control bytes become '?', so one
// reply is always one line whatever a name held.
std::string EncodeError(const Status& status);
std::string EncodeOk();                        // "OK\n"
std::string EncodeListHead(std::size_t count);  // "OK <count>\n"
std::string EncodeListEntry(const FileEntry& entry);
std::string EncodeStat(const FileEntry& entry);  // REQUIRES: entry.checksum
std::string EncodeGetHead(const GetHead& head);
std::string EncodePutDone(const PutDone& done);
std::string EncodeContinue(std::uint64_t offset);
std::string EncodeStats(const std::vector<StatValue>& values);

// A reply line (without its ending): the fields after "OK", or the Status of an "ERR" (its
// code and message as sent). A line that is neither is a 500 "malformed reply".
Result<std::vector<std::string_view>> ParseReplyLine(std::string_view line);
Result<std::size_t> ParseListHead(std::string_view line);
Result<FileEntry> ParseListEntry(std::string_view line);
Result<FileEntry> ParseStat(std::string_view line, std::string name);
Result<GetHead> ParseGetHead(std::string_view line);
Result<PutDone> ParsePutDone(std::string_view line);
// "CONTINUE <offset>", or the Status of an ERR line.
Result<std::uint64_t> ParseContinue(std::string_view line);
Result<StatValue> ParseStatValue(std::string_view line);

}  // namespace ferry::protocol
