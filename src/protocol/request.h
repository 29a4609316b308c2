// Requests of the native protocol v1 (docs/protocol.md): parsing and encoding, pure.
//
//   LIST [prefix]
//   STAT <name>
//   GET <name> [offset [length]]
//   PUT <name> [size [checksum]]      then exactly <size> bytes, or bytes until half-close
//   DEL <name>
//   STATS
//   AUTH <token>                      who the connection is (docs/security.md)
//   QUIT
// Commands are case-insensitive; arguments are separated by spaces; names and prefixes are
// percent-encoded. Numbers are decimal, unsigned, and fit in int64.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/checksum.h"
#include "common/object_name.h"
#include "common/status.h"

namespace ferry::protocol {

enum class Command { kList, kStat, kGet, kPut, kDel, kStats, kAuth, kQuit };

struct Request {
  Command command = Command::kQuit;
  std::optional<ObjectName> name;          // STAT, GET, PUT, DEL
  std::string prefix;                      // LIST (decoded)
  std::uint64_t offset = 0;                // GET
  std::optional<std::uint64_t> length;     // GET: nullopt = to the end of the file
  std::optional<std::uint64_t> size;       // PUT: nullopt = until the client half-closes
  std::optional<Checksum> checksum;        // PUT: verified before the file is committed
  // PUT <name> <size> <checksum> resume: the server first answers "CONTINUE <offset>" (the
  // bytes it already holds of this exact upload), then the client sends the rest.
  bool resume = false;
  std::string token;  // AUTH
};

// The bytes that follow a request line on the wire. Known even when the request is refused
// (a PUT with a bad name still sends its body), so the session can skip them and stay in step.
struct BodyFraming {
  enum class Kind { kNone, kExact, kUntilEof };
  Kind kind = Kind::kNone;
  std::uint64_t bytes = 0;  // for kExact
};

struct ParsedLine {
  Result<Request> request;
  BodyFraming body;
};

// Parses one request line (without its line ending). Every malformed line is a 400 whose
// message says what is wrong; a name under the private folder is a 403.
ParsedLine ParseRequest(std::string_view line);

// The request line for `request`, ending in "\n". REQUIRES: the fields its command needs.
std::string EncodeRequest(const Request& request);

}  // namespace ferry::protocol
