// The native protocol over raw sockets: framing, pipelining and every error reply.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/ferryd_fixture.h"

namespace ferry::testing {
namespace {

class RawProtocol : public ::testing::Test {
 protected:
  // "OK <size> <checksum>" of a PUT of `bytes` as `name` over `c`.
  std::string Put(RawConnection& c, const std::string& name, const std::string& bytes) {
    c.Send("PUT " + name + " " + std::to_string(bytes.size()) + "\n" + bytes);
    return c.ReadLine();
  }
  Ferryd server_;
};

TEST_F(RawProtocol, PipelinedRequestsInOneWriteWithCrlf) {
  RawConnection c(server_.port());
  c.Send("PUT a.txt 5\r\nhelloPUT b.txt 3\nbyeGET a.txt\r\nGET b.txt 1 1\nSTAT a.txt\r\nLIST\nDEL b.txt\nQUIT\n");
  std::string put_a = c.ReadLine();
  EXPECT_TRUE(put_a.starts_with("OK 5 xxh128:")) << put_a;
  EXPECT_TRUE(c.ReadLine().starts_with("OK 3 xxh128:"));
  std::string head = c.ReadLine();
  EXPECT_EQ(head, "OK 5 5 " + put_a.substr(5));
  EXPECT_EQ(c.ReadBytes(5), "hello");
  EXPECT_TRUE(c.ReadLine().starts_with("OK 1 3 "));
  EXPECT_EQ(c.ReadBytes(1), "y");
  std::string stat = c.ReadLine();
  EXPECT_TRUE(stat.starts_with("OK 5 ")) << stat;
  EXPECT_NE(stat.find(put_a.substr(5)), std::string::npos);
  EXPECT_EQ(c.ReadLine(), "OK 2");
  EXPECT_TRUE(c.ReadLine().ends_with(" a.txt"));
  EXPECT_TRUE(c.ReadLine().ends_with(" b.txt"));
  EXPECT_EQ(c.ReadLine(), "OK");
  EXPECT_EQ(c.ReadLine(), "OK");
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST_F(RawProtocol, PutWithoutSizeReadsUntilHalfClose) {
  RawConnection c(server_.port());
  c.Send("PUT streamed.txt\n");
  c.Send("part one, ");
  c.Send("part two");
  c.HalfClose();
  EXPECT_TRUE(c.ReadLine().starts_with("OK 18 xxh128:"));
  EXPECT_TRUE(c.ClosedByPeer());
  EXPECT_EQ(ReadFile(server_.data() / "streamed.txt"), "part one, part two");
}

TEST_F(RawProtocol, ErrorsKeepTheConnectionUsable) {
  RawConnection c(server_.port());
  auto expect_error = [&](const std::string& request, const std::string& code) {
    c.Send(request);
    std::string line = c.ReadLine();
    EXPECT_TRUE(line.starts_with("ERR " + code + " ")) << request << " -> " << line;
  };
  expect_error("GET missing.txt\n", "404");
  expect_error("STAT missing.txt\n", "404");
  expect_error("DEL missing.txt\n", "404");
  expect_error("FROB x\n", "400");
  expect_error("\n", "400");
  expect_error("GET\n", "400");
  expect_error("GET a b c d\n", "400");
  expect_error("PUT x.txt -5\n", "400");
  expect_error("PUT x.txt five\n", "400");
  expect_error("GET x.txt -1\n", "400");
  expect_error(std::string(9000, 'A') + "\n", "400");
  expect_error("GET ../../etc/passwd\n", "400");
  expect_error("GET /etc/passwd\n", "400");
  expect_error("GET %2e%2e/secret\n", "400");
  expect_error("GET a%00b\n", "400");
  expect_error("GET .ferry/tmp/x\n", "403");
  // A refused PUT's body is skipped, so the next request is read correctly.
  expect_error("PUT ../evil 6\nABCDEF", "400");
  expect_error("PUT .ferry/tmp/planted 4\nQUIT", "403");
  EXPECT_TRUE(Put(c, "ok.txt", "fine").starts_with("OK 4 "));
  expect_error("GET ok.txt 5\n", "416");
  expect_error("PUT ok.txt 3 xxh128:00000000000000000000000000000000\nBAD", "422");
  c.Send("GET ok.txt\n");
  EXPECT_TRUE(c.ReadLine().starts_with("OK 4 4 "));
  EXPECT_EQ(c.ReadBytes(4), "fine");  // the 422 left the old version untouched
  std::filesystem::create_directories(server_.data() / "folder");
  expect_error("PUT folder 1\nx", "409");
  expect_error("GET folder\n", "404");
  EXPECT_FALSE(std::filesystem::exists(server_.data() / ".ferry/tmp/planted"));
  EXPECT_FALSE(std::filesystem::exists(server_.data().parent_path() / "evil"));
}

TEST_F(RawProtocol, SymlinkEscapesAndSpecialFilesAreForbidden) {
  TempDir outside;
  WriteFile(outside / "secret", "secret");
  std::filesystem::create_symlink(outside / "secret", server_.data() / "escape");
  std::filesystem::create_directory_symlink(outside.path(), server_.data() / "escape-dir");
  ASSERT_EQ(::mkfifo((server_.data() / "fifo").c_str(), 0644), 0);
  RawConnection c(server_.port());
  for (const char* request : {"GET escape\n", "STAT escape\n", "GET escape-dir/secret\n",
                              "GET fifo\n"}) {
    c.Send(request);
    std::string line = c.ReadLine();
    EXPECT_TRUE(line.starts_with("ERR 403 ")) << request << " -> " << line;
  }
  c.Send("PUT escape-dir/planted 1\nx");
  EXPECT_TRUE(c.ReadLine().starts_with("ERR 403 "));
  EXPECT_FALSE(std::filesystem::exists(outside / "planted"));
  c.Send("LIST\n");
  EXPECT_EQ(c.ReadLine(), "OK 0");  // neither symlinks nor special files are listed
}

TEST_F(RawProtocol, ABadClientDoesNotDisturbOthers) {
  RawConnection good(server_.port());
  EXPECT_TRUE(Put(good, "shared.txt", "data").starts_with("OK "));
  {
    RawConnection bad(server_.port());
    bad.Send(std::string(100000, '\x01'));  // garbage without a line end, then gone
  }
  RawConnection bad2(server_.port());
  bad2.Send("PUT half.bin 1000000\nonly a few bytes");  // then disconnects mid-body
  good.Send("GET shared.txt\n");
  EXPECT_TRUE(good.ReadLine().starts_with("OK 4 4 "));
  EXPECT_EQ(good.ReadBytes(4), "data");
}

}  // namespace
}  // namespace ferry::testing
