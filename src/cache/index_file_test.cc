#include "cache/index_file.h"

#include <gtest/gtest.h>

namespace ferry::cache {
namespace {

const Checksum kChecksum = *Checksum::Parse("xxh128:99aa06d3014798d86001c324468d497f");

TEST(IndexFile, SnapshotLinesRoundTripAnyName) {
  SavedCopy copy{"dir/a b,c ü%41.txt", kChecksum, 3, {}};
  copy.version = {1234, 1700000000123456789, 42, 7, 8192};
  std::string line = FormatSnapshotLine(copy);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  auto parsed = ParseSnapshotLine(line.substr(0, line.size() - 1));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->name, copy.name);
  EXPECT_EQ(parsed->checksum, kChecksum);
  EXPECT_EQ(parsed->hits, 3u);
  EXPECT_EQ(parsed->version.size, 1234u);
  EXPECT_EQ(parsed->version.mtime_ns, 1700000000123456789);
  EXPECT_EQ(parsed->version.inode, 42u);
  EXPECT_EQ(parsed->version.allocated_bytes, 8192u);
}

TEST(IndexFile, JournalRecordsRoundTrip) {
  JournalRecord added{JournalRecord::Kind::kAdded, "x y", kChecksum};
  std::string line = FormatJournalRecord(added);
  ASSERT_EQ(line.back(), '\n');
  auto parsed = ParseJournalRecord(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->kind, JournalRecord::Kind::kAdded);
  EXPECT_EQ(parsed->name, "x y");
  EXPECT_EQ(parsed->checksum, kChecksum);
  std::string removed = FormatJournalRecord({JournalRecord::Kind::kRemoved, "x y", {}});
  EXPECT_EQ(removed, "E x%20y\n");
  EXPECT_EQ(ParseJournalRecord("E x%20y")->kind, JournalRecord::Kind::kRemoved);
}

TEST(IndexFile, MalformedAndTornLinesAreRejected) {
  for (const char* bad : {"", "A", "A xxh128:99aa06d3014798d86001c324468d497f",
                          "A xxh128:99aa06 name", "A xxh128:99aa06d3014798d86001c324468d497f ../x",
                          "E", "E ", "E %zz", "X name", "1 2 3 4 5 xxh128:99aa06d3014798d86001c324468d497f",
                          "1 2 3 4 5 6 name", "-1 2 3 4 5 xxh128:99aa06d3014798d86001c324468d497f n",
                          "1 2 3 4 5 xxh128:99aa06d3014798d86001c324468d497f n extra"}) {
    EXPECT_FALSE(ParseJournalRecord(bad)) << bad;
    EXPECT_FALSE(ParseSnapshotLine(bad)) << bad;
  }
}

}  // namespace
}  // namespace ferry::cache
