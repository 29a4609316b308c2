#include "protocol/request.h"

#include <cstring>

#include <gtest/gtest.h>

#include <algorithm>

#include "protocol/line_reader.h"

namespace ferry::protocol {
namespace {

Request Parse(std::string_view line) {
  ParsedLine parsed = ParseRequest(line);
  EXPECT_TRUE(parsed.request.ok()) << line << ": " << parsed.request.status().ToString();
  return parsed.request.ok() ? *parsed.request : Request{};
}

Code Refusal(std::string_view line) {
  ParsedLine parsed = ParseRequest(line);
  EXPECT_FALSE(parsed.request.ok()) << line;
  return parsed.request.status().code();
}

TEST(Request, ParsesEveryCommand) {
  EXPECT_EQ(Parse("LIST").command, Command::kList);
  EXPECT_EQ(Parse("LIST logs/").prefix, "logs/");
  EXPECT_EQ(Parse("STAT a%20b").name->str(), "a b");
  Request get = Parse("GET dir/f.bin 100 50");
  EXPECT_EQ(get.command, Command::kGet);
  EXPECT_EQ(get.name->str(), "dir/f.bin");
  EXPECT_EQ(get.offset, 100u);
  EXPECT_EQ(get.length, 50u);
  EXPECT_FALSE(Parse("GET f").length);
  Request put = Parse("PUT f 5 xxh128:99aa06d3014798d86001c324468d497f");
  EXPECT_EQ(put.size, 5u);
  ASSERT_TRUE(put.checksum);
  EXPECT_EQ(put.checksum->hex, "99aa06d3014798d86001c324468d497f");
  EXPECT_FALSE(Parse("PUT f").size);
  EXPECT_FALSE(put.resume);
  EXPECT_TRUE(Parse("PUT f 5 xxh128:99aa06d3014798d86001c324468d497f resume").resume);
  EXPECT_EQ(Parse("DEL f").command, Command::kDel);
  EXPECT_EQ(Parse("QUIT").command, Command::kQuit);
  Request auth = Parse("AUTH s3cr%20t");
  EXPECT_EQ(auth.command, Command::kAuth);
  EXPECT_EQ(auth.token, "s3cr%20t");  // a token is never percent-decoded
}

TEST(Request, CommandsAreCaseInsensitiveAndSpacesFold) {
  EXPECT_EQ(Parse("get  f   7").offset, 7u);
  EXPECT_EQ(Parse("  Quit ").command, Command::kQuit);
}

TEST(Request, EveryMalformedLineIs400) {
  for (const char* line : {"", "   ", "FOO", "LISTX", "STAT", "GET", "PUT", "DEL", "QUIT now",
                           "STAT a b", "GET a 1 2 3", "GET a -1", "GET a x", "GET a 1 -5",
                           "GET a 99999999999999999999", "PUT a -5", "PUT a 5x", "PUT a 5 md5:00",
                           "PUT a 5 xxh128:zz", "PUT a 1 xxh128:99aa06d3014798d86001c324468d497f x",
                           "GET ../x", "GET /etc/passwd", "STAT a%00b", "DEL %", "LIST ../",
                           "GET a%0aQUIT", "AUTH", "AUTH a b", "AUTH \x01x", "AUTH t\xc3\xa9"}) {
    EXPECT_EQ(Refusal(line), Code::kBadRequest) << line;
  }
  EXPECT_EQ(Refusal("GET .ferry/tmp/x"), Code::kForbidden);
}

TEST(Request, BodyFramingIsKnownEvenWhenRefused) {
  using Kind = BodyFraming::Kind;
  ParsedLine bad_name = ParseRequest("PUT ../x 5");
  EXPECT_FALSE(bad_name.request.ok());
  EXPECT_EQ(bad_name.body.kind, Kind::kExact);
  EXPECT_EQ(bad_name.body.bytes, 5u);
  EXPECT_EQ(ParseRequest("PUT ../x").body.kind, Kind::kUntilEof);
  EXPECT_EQ(ParseRequest("PUT a -5").body.kind, Kind::kNone);  // no size to trust
  EXPECT_EQ(ParseRequest("PUT a 5 bad").body.bytes, 5u);
  EXPECT_EQ(ParseRequest("GET a").body.kind, Kind::kNone);
  // A resumable PUT sends its body only after the server's CONTINUE.
  EXPECT_EQ(ParseRequest("PUT ../x 5 xxh128:99aa06d3014798d86001c324468d497f resume").body.kind,
            Kind::kNone);
}

TEST(Request, EncodeParseRoundTrip) {
  std::vector<Request> requests;
  requests.push_back({.command = Command::kList});
  requests.push_back({.command = Command::kList, .prefix = "dir with space/"});
  requests.push_back({.command = Command::kStat, .name = *ObjectName::FromDecoded("ü €/x y")});
  requests.push_back({.command = Command::kGet, .name = *ObjectName::FromDecoded("a"),
                      .offset = 10, .length = 20});
  requests.push_back({.command = Command::kGet, .name = *ObjectName::FromDecoded("a"), .offset = 10});
  requests.push_back({.command = Command::kPut, .name = *ObjectName::FromDecoded("%41"),
                      .size = 3, .checksum = Checksum::Parse("sha256:" + std::string(64, 'a'))});
  requests.push_back({.command = Command::kPut, .name = *ObjectName::FromDecoded("b")});
  requests.push_back({.command = Command::kDel, .name = *ObjectName::FromDecoded("c")});
  requests.push_back({.command = Command::kAuth, .token = "t0ken:with/odd~chars"});
  requests.push_back({.command = Command::kQuit});
  for (const Request& original : requests) {
    std::string line = EncodeRequest(original);
    ASSERT_EQ(line.back(), '\n');
    Request parsed = Parse(std::string_view(line).substr(0, line.size() - 1));
    EXPECT_EQ(parsed.command, original.command) << line;
    EXPECT_EQ(parsed.name, original.name) << line;
    EXPECT_EQ(parsed.prefix, original.prefix) << line;
    EXPECT_EQ(parsed.offset, original.offset) << line;
    EXPECT_EQ(parsed.length, original.length) << line;
    EXPECT_EQ(parsed.size, original.size) << line;
    EXPECT_EQ(parsed.token, original.token) << line;
    EXPECT_EQ(parsed.checksum, original.checksum) << line;
  }
}

// Found with request_fuzz's round-trip invariant: a valid name of 4096 bytes that are not
// unreserved (UTF-8, say) percent-encodes to three times that, so EncodeRequest made lines the
// server refused as over 8192 bytes. A line now holds the longest request there is.
TEST(Request, TheLongestRequestIsOneLineTheServerReads) {
  std::string segment;
  while (segment.size() + 3 <= kMaxSegmentBytes) segment += "\xE6\x97\xA5";  // 日
  std::string longest = segment;
  while (longest.size() + 1 + segment.size() <= kMaxNameBytes) longest += "/" + segment;
  Result<ObjectName> name = ObjectName::FromDecoded(longest);
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  Request put;
  put.command = Command::kPut;
  put.name = *name;
  put.size = 9223372036854775807u;
  put.checksum = Checksum::Parse("sha256:" + std::string(64, 'a'));
  put.resume = true;
  std::string line = EncodeRequest(put);
  EXPECT_LE(line.size() - 1, kMaxLineBytes);

  // Fed as a session reads it: as much as the reader has room for, which grows as needed.
  LineReader reader;
  LineReader::Event event = reader.Next();
  for (std::size_t fed = 0; event.kind == LineReader::Kind::kNeedMore && fed < line.size();) {
    std::span<char> space = reader.WritableSpace();
    std::size_t n = std::min(space.size(), line.size() - fed);
    std::memcpy(space.data(), line.data() + fed, n);
    reader.Commit(n);
    fed += n;
    event = reader.Next();
  }
  ASSERT_EQ(event.kind, LineReader::Kind::kLine);
  Request parsed = Parse(event.line);
  EXPECT_EQ(parsed.name, put.name);
  EXPECT_EQ(parsed.size, put.size);
  EXPECT_TRUE(parsed.resume);
}

}  // namespace
}  // namespace ferry::protocol
