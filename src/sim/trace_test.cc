#include "sim/trace.h"

#include <gtest/gtest.h>

#include "tests/temp_dir.h"

namespace ferry::sim {
namespace {

TEST(TraceLine, ParsesTheThreeFields) {
  TraceLine line;
  ASSERT_TRUE(ParseTraceLine("5633898,42932745,512", line).ok());
  EXPECT_EQ(line.timestamp, 5633898u);
  EXPECT_EQ(line.name, "42932745");
  EXPECT_EQ(line.size, 512u);
  ASSERT_TRUE(ParseTraceLine("0,logs/a b.gz,1", line).ok());
  EXPECT_EQ(line.name, "logs/a b.gz");
}

TEST(TraceLine, RefusesMalformedLines) {
  TraceLine line;
  for (const char* bad : {"", "1", "1,a", "1,,5", "x,a,5", "1,a,0", "1,a,-5", "1,a,5x", "-1,a,5",
                          "1,a,b,5", "1,a,99999999999999999999"}) {
    EXPECT_EQ(ParseTraceLine(bad, line).code(), Code::kBadRequest) << bad;
  }
}

TEST(Trace, DenseKeysAndTotals) {
  TraceBuilder builder;
  builder.Add("a", 10);
  builder.Add("b", 20);
  builder.Add("a", 10);
  builder.Add("a", 15);  // the same name with another size: a new object
  Trace trace = builder.Finish();
  ASSERT_EQ(trace.requests.size(), 4u);
  EXPECT_EQ(trace.requests[0].key, trace.requests[2].key);
  EXPECT_NE(trace.requests[0].key, trace.requests[3].key);
  EXPECT_EQ(trace.unique_objects(), 3u);
  EXPECT_EQ(trace.unique_bytes, 45u);
  EXPECT_EQ(trace.requested_bytes, 55u);
}

TEST(Trace, LoadReportsFileAndLine) {
  ferry::testing::TempDir dir;
  ferry::testing::WriteFile(dir / "t.csv", "0,a,1\r\n1,b,2\n\n2,c,zero\n");
  auto trace = LoadTrace(dir / "t.csv");
  ASSERT_FALSE(trace.ok());
  EXPECT_NE(trace.status().message().find("t.csv:4:"), std::string::npos)
      << trace.status().message();
  EXPECT_EQ(LoadTrace(dir / "missing.csv").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace ferry::sim
