#include "client/progress.h"

#include <gtest/gtest.h>

namespace ferry::client {
namespace {

TEST(ProgressLineTest, BarPercentRateAndEta) {
  std::string line = RenderProgressLine("logs/a.gz", 512 << 10, 1 << 20, 256 << 10, 100);
  EXPECT_NE(line.find("logs/a.gz  [##########..........]"), std::string::npos) << line;
  EXPECT_NE(line.find(" 50%"), std::string::npos) << line;
  EXPECT_NE(line.find("512.0 KiB / 1.0 MiB"), std::string::npos) << line;
  EXPECT_NE(line.find("256.0 KiB/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 0:02"), std::string::npos) << line;
  EXPECT_NE(RenderProgressLine("x", 0, 0, 0, 80).find("100%"), std::string::npos) << "empty file";
  EXPECT_NE(RenderProgressLine("x", 5, 10, 0, 80).find("ETA --:--"), std::string::npos);
}

TEST(ProgressLineTest, FitsTheWidthShorteningTheNameFirst) {
  std::string name(200, 'n');
  for (int width : {20, 40, 60, 80, 200}) {
    std::string line = RenderProgressLine(name + "/end.bin", 1, 2, 1, width);
    EXPECT_LE(static_cast<int>(line.size()), width) << width;
  }
  std::string line = RenderProgressLine(name + "/end.bin", 1, 2, 1, 100);
  EXPECT_TRUE(line.starts_with("...nnn")) << line;
  EXPECT_NE(line.find("n/end.bin  ["), std::string::npos) << line;
}

TEST(ProgressLineTest, Summary) {
  EXPECT_EQ(RenderSummary(3, 3 << 20, std::chrono::seconds(2), 2, 0, 0),
            "3 files, 3.0 MiB in 2.0 s (1.5 MiB/s), 2 from the server's cache");
  EXPECT_EQ(RenderSummary(1, 0, std::chrono::milliseconds(0), 0, 1, 1),
            "1 file, 0 B in 0.0 s (0 B/s), 1 resumed, 1 FAILED");
}

}  // namespace
}  // namespace ferry::client
