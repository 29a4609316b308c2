#include "protocol/request.h"

#include <array>
#include <cctype>
#include <vector>

#include <fmt/format.h>

#include "common/units.h"
#include "protocol/line_reader.h"

namespace ferry::protocol {
namespace {

struct CommandSpec {
  std::string_view word;
  Command command;
  std::size_t min_args;
  std::size_t max_args;
};

constexpr std::array<CommandSpec, 8> kCommands = {{
    {"AUTH", Command::kAuth, 1, 1},
    {"LIST", Command::kList, 0, 1},
    {"STAT", Command::kStat, 1, 1},
    {"GET", Command::kGet, 1, 3},
    {"PUT", Command::kPut, 1, 4},
    {"DEL", Command::kDel, 1, 1},
    {"STATS", Command::kStats, 0, 0},
    {"QUIT", Command::kQuit, 0, 0},
}};

std::vector<std::string_view> SplitArgs(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

Status ParseNumber(std::string_view text, std::string_view what, std::uint64_t& out) {
  if (!ParseUint(text, out)) {
    return Status::BadRequest(fmt::format("{} must be a non-negative decimal number", what));
  }
  return Status::Ok();
}

Result<Request> ParseArgs(const CommandSpec& spec, const std::vector<std::string_view>& args) {
  Request request;
  request.command = spec.command;
  if (spec.command == Command::kList) {
    if (!args.empty()) {
      Result<std::string> prefix = PrefixFromWire(args[0]);
      if (!prefix.ok()) return prefix.status();
      request.prefix = std::move(*prefix);
    }
    return request;
  }
  if (spec.command == Command::kQuit || spec.command == Command::kStats) return request;
  if (spec.command == Command::kAuth) {
    // Printable ASCII: a token is a secret string, not a name, and is never percent-decoded.
    for (char c : args[0]) {
      if (c <= ' ' || c > '~') return Status::BadRequest("a token is printable ASCII");
    }
    request.token = std::string(args[0]);
    return request;
  }

  Result<ObjectName> name = ObjectName::FromWire(args[0]);
  if (!name.ok()) return name.status();
  request.name = std::move(*name);
  if (spec.command == Command::kGet) {
    if (args.size() > 1) {
      if (Status s = ParseNumber(args[1], "offset", request.offset); !s.ok()) return s;
    }
    if (args.size() > 2) {
      std::uint64_t length = 0;
      if (Status s = ParseNumber(args[2], "length", length); !s.ok()) return s;
      request.length = length;
    }
  } else if (spec.command == Command::kPut) {
    if (args.size() > 1) {
      std::uint64_t size = 0;
      if (Status s = ParseNumber(args[1], "size", size); !s.ok()) return s;
      request.size = size;
    }
    if (args.size() > 2) {
      request.checksum = Checksum::Parse(args[2]);
      if (!request.checksum) {
        return Status::BadRequest("checksum must be xxh128:<32 hex> or sha256:<64 hex>");
      }
    }
    if (args.size() > 3) {
      if (args[3] != "resume") return Status::BadRequest("PUT's fourth argument can only be 'resume'");
      request.resume = true;
    }
  }
  return request;
}

// The body that follows a PUT line, decided from its size argument alone. A resumable PUT
// sends nothing before the server's CONTINUE.
BodyFraming PutFraming(const std::vector<std::string_view>& args) {
  if (args.size() < 2) return {BodyFraming::Kind::kUntilEof, 0};
  if (args.size() > 3 && args[3] == "resume") return {};
  std::uint64_t size = 0;
  if (!ParseUint(args[1], size)) return {};  // no trustworthy size: treat what follows as lines
  return {BodyFraming::Kind::kExact, size};
}

// Every request EncodeRequest makes must fit a line the server reads: the longest is
// "PUT <name> <size> sha256:<64 hex> resume" with every byte of the name escaped (%XX).
static_assert(kMaxLineBytes >= std::string_view("PUT ").size() + 3 * kMaxNameBytes + 1 + 19 +
                                   std::string_view(" sha256:").size() + 64 +
                                   std::string_view(" resume").size());

}  // namespace

ParsedLine ParseRequest(std::string_view line) {
  std::vector<std::string_view> words = SplitArgs(line);
  if (words.empty()) return {Status::BadRequest("empty request line"), {}};
  const CommandSpec* spec = nullptr;
  for (const CommandSpec& candidate : kCommands) {
    if (EqualsIgnoreCase(words[0], candidate.word)) spec = &candidate;
  }
  if (spec == nullptr) {
    std::string shown(words[0].substr(0, 32));
    return {Status::BadRequest(fmt::format("unknown command '{}'", PercentEncode(shown))), {}};
  }
  std::vector<std::string_view> args(words.begin() + 1, words.end());
  BodyFraming body = spec->command == Command::kPut ? PutFraming(args) : BodyFraming{};
  if (args.size() < spec->min_args) {
    return {Status::BadRequest(fmt::format("{} needs an argument", spec->word)), body};
  }
  if (args.size() > spec->max_args) {
    return {Status::BadRequest(fmt::format("too many arguments for {}", spec->word)), body};
  }
  return {ParseArgs(*spec, args), body};
}

std::string EncodeRequest(const Request& request) {
  switch (request.command) {
    case Command::kList:
      return request.prefix.empty() ? "LIST\n"
                                    : fmt::format("LIST {}\n", PercentEncode(request.prefix));
    case Command::kStat:
      return fmt::format("STAT {}\n", request.name->ToWire());
    case Command::kGet:
      if (request.length) {
        return fmt::format("GET {} {} {}\n", request.name->ToWire(), request.offset,
                           *request.length);
      }
      if (request.offset != 0) {
        return fmt::format("GET {} {}\n", request.name->ToWire(), request.offset);
      }
      return fmt::format("GET {}\n", request.name->ToWire());
    case Command::kPut:
      if (!request.size) return fmt::format("PUT {}\n", request.name->ToWire());
      if (request.checksum) {
        return fmt::format("PUT {} {} {}{}\n", request.name->ToWire(), *request.size,
                           request.checksum->ToString(), request.resume ? " resume" : "");
      }
      return fmt::format("PUT {} {}\n", request.name->ToWire(), *request.size);
    case Command::kDel:
      return fmt::format("DEL {}\n", request.name->ToWire());
    case Command::kStats:
      return "STATS\n";
    case Command::kAuth:
      return fmt::format("AUTH {}\n", request.token);
    case Command::kQuit:
      return "QUIT\n";
  }
  return "QUIT\n";
}

}  // namespace ferry::protocol
