#include "protocol/line_reader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace ferry::protocol {
namespace {

// Feeds `input` in pieces of `piece` bytes; returns the events as "L:<line>" or "TOOLONG".
std::vector<std::string> Frame(const std::string& input, std::size_t piece) {
  LineReader reader;
  std::vector<std::string> events;
  std::size_t fed = 0;
  while (true) {
    LineReader::Event event = reader.Next();
    if (event.kind == LineReader::Kind::kLine) {
      events.push_back("L:" + std::string(event.line));
    } else if (event.kind == LineReader::Kind::kTooLong) {
      events.push_back("TOOLONG");
    } else {
      if (fed == input.size()) break;
      std::span<char> space = reader.WritableSpace();
      std::size_t n = std::min({piece, space.size(), input.size() - fed});
      std::memcpy(space.data(), input.data() + fed, n);
      reader.Commit(n);
      fed += n;
    }
  }
  return events;
}

TEST(LineReader, LfAndCrlfInAnySplit) {
  std::string input = "LIST\r\nSTAT a\nGET b 1 2\r\n";
  for (std::size_t piece : {1u, 2u, 3u, 5u, 100u}) {
    EXPECT_EQ(Frame(input, piece),
              (std::vector<std::string>{"L:LIST", "L:STAT a", "L:GET b 1 2"}))
        << "piece " << piece;
  }
}

TEST(LineReader, EmptyLinesAreLines) {
  EXPECT_EQ(Frame("\n\r\nQUIT\n", 1), (std::vector<std::string>{"L:", "L:", "L:QUIT"}));
}

TEST(LineReader, IncompleteLineWaits) { EXPECT_TRUE(Frame("LIST", 4).empty()); }

TEST(LineReader, MaximalLineFitsOneMoreDoesNot) {
  std::string max(kMaxLineBytes, 'x');
  for (std::size_t piece : {1000u, 8192u, 70000u}) {
    EXPECT_EQ(Frame(max + "\r\n", piece), (std::vector<std::string>{"L:" + max}));
    EXPECT_EQ(Frame(max + "y\nQUIT\n", piece), (std::vector<std::string>{"TOOLONG", "L:QUIT"}))
        << "piece " << piece;
  }
}

TEST(LineReader, TooLongLineIsReportedOnceAndSkipped) {
  std::string huge(5 * kMaxLineBytes, 'z');
  for (std::size_t piece : {7u, 4096u, 100000u}) {
    EXPECT_EQ(Frame("A\n" + huge + "\nB\n", piece),
              (std::vector<std::string>{"L:A", "TOOLONG", "L:B"}))
        << "piece " << piece;
  }
}

TEST(LineReader, BufferedBytesAfterALineAreTheBody) {
  LineReader reader;
  std::string input = "PUT a 5\nhelloQUIT\n";
  std::span<char> space = reader.WritableSpace();
  std::memcpy(space.data(), input.data(), input.size());
  reader.Commit(input.size());
  LineReader::Event event = reader.Next();
  ASSERT_EQ(event.kind, LineReader::Kind::kLine);
  EXPECT_EQ(event.line, "PUT a 5");
  EXPECT_EQ(reader.Buffered().substr(0, 5), "hello");
  reader.Consume(5);
  event = reader.Next();
  ASSERT_EQ(event.kind, LineReader::Kind::kLine);
  EXPECT_EQ(event.line, "QUIT");
}

TEST(LineReader, StartsSmallGrowsForALongLineAndReleasesWhenEmpty) {
  LineReader reader;
  EXPECT_EQ(reader.Next().kind, LineReader::Kind::kNeedMore);  // nothing allocated yet
  std::span<char> first = reader.WritableSpace();
  EXPECT_EQ(first.size(), 4096u) << "an ordinary request needs no more";
  // A maximal line arrives in pieces as large as the space offered: the buffer grows to hold it.
  std::string line = "PUT " + std::string(kMaxLineBytes - 4, 'a');
  std::string input = line + "\nQUIT\n";
  std::size_t fed = 0;
  std::vector<std::string> lines;
  while (lines.size() < 2) {
    LineReader::Event event = reader.Next();
    ASSERT_NE(event.kind, LineReader::Kind::kTooLong);
    if (event.kind == LineReader::Kind::kLine) {
      lines.emplace_back(event.line);
      continue;
    }
    ASSERT_LT(fed, input.size());
    std::span<char> space = reader.WritableSpace();
    std::size_t n = std::min(space.size(), input.size() - fed);
    std::memcpy(space.data(), input.data() + fed, n);
    reader.Commit(n);
    fed += n;
  }
  EXPECT_EQ(lines[0], line);
  EXPECT_EQ(lines[1], "QUIT");
  reader.Release();
  EXPECT_EQ(reader.Next().kind, LineReader::Kind::kNeedMore);
  EXPECT_EQ(reader.WritableSpace().size(), 4096u) << "released, then allocated small again";
}

TEST(LineReader, ReleaseKeepsUnreadBytes) {
  LineReader reader;
  std::span<char> space = reader.WritableSpace();
  std::memcpy(space.data(), "GET a\nGE", 8);
  reader.Commit(8);
  ASSERT_EQ(reader.Next().kind, LineReader::Kind::kLine);
  reader.Release();  // "GE" is still to come: nothing is freed
  EXPECT_EQ(reader.Buffered(), "GE");
  space = reader.WritableSpace();
  std::memcpy(space.data(), "T b\n", 4);
  reader.Commit(4);
  LineReader::Event event = reader.Next();
  ASSERT_EQ(event.kind, LineReader::Kind::kLine);
  EXPECT_EQ(event.line, "GET b");
}

}  // namespace
}  // namespace ferry::protocol
