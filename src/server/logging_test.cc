#include "server/logging.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ferry::server {
namespace {

std::string Json(std::string_view text) {
  std::string out;
  AppendJsonEscaped(out, text);
  return out;
}

std::string Text(std::string_view text) {
  std::string out;
  AppendTextEscaped(out, text);
  return out;
}

TEST(Logging, JsonEscapesEveryControlByte) {
  EXPECT_EQ(Json("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(Json("line\nbreak\r\t"), "line\\nbreak\\r\\t");
  EXPECT_EQ(Json("\x1b[31mred\x7f"), "\\u001b[31mred\\u007f");
  EXPECT_EQ(Json("\xc2\x85"), "\\u0085");            // C1 NEL, valid UTF-8
  EXPECT_EQ(Json("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");  // kept as is
  EXPECT_EQ(Json("\xff\xc3"), "\\ufffd\\ufffd");      // not UTF-8
  EXPECT_EQ(Json("\xc0\xaf"), "\\ufffd\\ufffd");      // overlong '/'
  EXPECT_EQ(Json("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");  // a surrogate
}

TEST(Logging, TextEscapesEveryControlByteAndBrokenSequence) {
  EXPECT_EQ(Text("a \"b\" \\"), "a \\\"b\\\" \\\\");
  EXPECT_EQ(Text("x\ny\x1b\x7f"), "x\\ny\\x1b\\x7f");
  EXPECT_EQ(Text("\xc2\x9b"), "\\xc2\\x9b");  // C1 CSI
  EXPECT_EQ(Text("\xff" "caf\xc3\xa9"), "\\xff" "caf\xc3\xa9");
}

TEST(Logging, ServerMessagesKeepQuotesButNoControlBytes) {
  std::string out;
  AppendEscaped(out, "GET '/a\"b\\c' \x1b\xc2\x9b\x9b", /*quotes=*/false);
  EXPECT_EQ(out, "GET '/a\"b\\c' \\x1b\\xc2\\x9b\\x9b");
}

TEST(Logging, AccessLinesAreOneLineAndTheJsonParsesBack) {
  AccessRecord record{.time = std::chrono::system_clock::time_point(std::chrono::seconds(1'764'763'200)),
                      .client = "127.0.0.1:40000",
                      .door = "http",
                      .command = "GET",
                      .name = "dir/new\nline\x1b[2J.txt",
                      .status = 200,
                      .bytes_sent = 4096,
                      .bytes_received = 0,
                      .duration = std::chrono::microseconds(1500),
                      .cache = "hit"};
  std::string json = FormatAccess(record, LogFormat::kJson);
  ASSERT_EQ(json.back(), '\n');
  EXPECT_EQ(json.find('\n'), json.size() - 1);
  nlohmann::json parsed = nlohmann::json::parse(json);
  EXPECT_EQ(parsed["time"], "2025-12-03T12:00:00.000Z");
  EXPECT_EQ(parsed["type"], "access");
  EXPECT_EQ(parsed["client"], "127.0.0.1:40000");
  EXPECT_EQ(parsed["door"], "http");
  EXPECT_EQ(parsed["command"], "GET");
  EXPECT_EQ(parsed["name"], "dir/new\nline\x1b[2J.txt");
  EXPECT_EQ(parsed["status"], 200);
  EXPECT_EQ(parsed["bytes_sent"], 4096);
  EXPECT_EQ(parsed["bytes_received"], 0);
  EXPECT_DOUBLE_EQ(parsed["duration_ms"].get<double>(), 1.5);
  EXPECT_EQ(parsed["cache"], "hit");

  std::string text = FormatAccess(record, LogFormat::kText);
  EXPECT_EQ(text,
            "2025-12-03T12:00:00.000Z access client=127.0.0.1:40000 door=http command=GET "
            "name=\"dir/new\\nline\\x1b[2J.txt\" status=200 bytes_sent=4096 bytes_received=0 "
            "duration_ms=1.500 cache=hit\n");
}

}  // namespace
}  // namespace ferry::server
