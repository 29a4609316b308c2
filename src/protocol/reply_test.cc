#include "protocol/reply.h"

#include <gtest/gtest.h>

namespace ferry::protocol {
namespace {

std::string Line(std::string encoded) {
  EXPECT_EQ(encoded.back(), '\n');
  encoded.pop_back();
  return encoded;
}

const Checksum kChecksum = *Checksum::Parse("xxh128:99aa06d3014798d86001c324468d497f");

TEST(Reply, ErrorsAreOneLineWhateverTheMessage) {
  std::string line = EncodeError(Status::NotFound("no such file: a\nERR 200 forged\r"));
  EXPECT_EQ(line, "ERR 404 no such file: a?ERR 200 forged?\n");
  EXPECT_EQ(EncodeError(Status::NotFound(std::string(5000, 'x'))).size(), 1024u + 9);
  auto parsed = ParseReplyLine(Line(EncodeError(Status::ChecksumMismatch("bad bytes"))));
  EXPECT_EQ(parsed.status().code(), Code::kChecksumMismatch);
  EXPECT_EQ(parsed.status().message(), "bad bytes");
}

TEST(Reply, RoundTrips) {
  FileEntry entry{"dir/my file ü.txt", 1234, 1700000000, true, kChecksum};
  auto listed = ParseListEntry(Line(EncodeListEntry(entry)));
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->name, entry.name);
  EXPECT_EQ(listed->size, entry.size);
  EXPECT_EQ(listed->mtime, entry.mtime);
  EXPECT_TRUE(listed->cached);
  auto stat = ParseStat(Line(EncodeStat(entry)), entry.name);
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(stat->checksum, kChecksum);
  EXPECT_EQ(*ParseListHead(Line(EncodeListHead(42))), 42u);
  auto head = ParseGetHead(Line(EncodeGetHead({10, 20, kChecksum})));
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->length, 10u);
  EXPECT_EQ(head->size, 20u);
  auto done = ParsePutDone(Line(EncodePutDone({20, kChecksum})));
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->checksum, kChecksum);
  EXPECT_TRUE(ParseReplyLine(Line(EncodeOk())).ok());
  EXPECT_EQ(*ParseContinue(Line(EncodeContinue(12345))), 12345u);
  EXPECT_EQ(ParseContinue("ERR 409 conflict: busy").status().code(), Code::kConflict);
  EXPECT_EQ(ParseContinue("CONTINUE x").status().code(), Code::kInternal);
  EXPECT_EQ(ParseContinue("OK 5 xxh128:99aa06d3014798d86001c324468d497f").status().code(),
            Code::kInternal);
}

TEST(Reply, MalformedRepliesAre500) {
  for (const char* bad : {"", "HELLO", "OK x", "OK 1 2", "ERR", "ERR x"}) {
    auto head = ParseGetHead(bad);
    EXPECT_FALSE(head.ok()) << bad;
  }
  EXPECT_EQ(ParseListEntry("1 2 X name").status().code(), Code::kInternal);
  EXPECT_EQ(ParseListEntry("1 2 C").status().code(), Code::kInternal);
  EXPECT_EQ(ParseGetHead("OK 1 2 nochecksum").status().code(), Code::kInternal);
}

// Found with reply_fuzz: mtime was read as an unsigned number, so LIST and STAT of a file
// dated before 1970 (a negative mtime, which the server sends as "-86400") were malformed
// replies to the client.
TEST(Reply, MtimesBefore1970RoundTrip) {
  for (std::int64_t mtime : {std::int64_t{-86400}, std::int64_t{-1}, INT64_MIN, INT64_MAX}) {
    FileEntry entry{.name = "old/1969.txt", .size = 5, .mtime = mtime, .checksum = kChecksum};
    Result<FileEntry> listed = ParseListEntry(Line(EncodeListEntry(entry)));
    ASSERT_TRUE(listed.ok()) << mtime;
    EXPECT_EQ(listed->mtime, mtime);
    Result<FileEntry> stat = ParseStat(Line(EncodeStat(entry)), entry.name);
    ASSERT_TRUE(stat.ok()) << mtime;
    EXPECT_EQ(stat->mtime, mtime);
  }
  for (const char* bad : {"1 - C a", "1 -- C a", "1 --5 C a", "1 +5 C a", "1 5- C a", "1 -9223372036854775809 C a"}) {
    EXPECT_FALSE(ParseListEntry(bad).ok()) << bad;
  }
}

// Found with reply_fuzz: "ERR 200 ..." parsed to a refusal whose Status was OK, so
// Client::Remove and the like reported success for a line that is no success.
TEST(Reply, AnErrLineIsNeverOk) {
  for (const char* line : {"ERR 200 fine", "ERR 200"}) {
    Result<std::vector<std::string_view>> parsed = ParseReplyLine(line);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), Code::kInternal) << line;
  }
}

}  // namespace
}  // namespace ferry::protocol
