// ferry-sim end to end: agreement with an independent simulator on the shared traces, the
// curve, and a trace recorded by ferryd --trace-out replayed through it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "client/client.h"
#include "tests/ferryd_fixture.h"

namespace ferry::testing {
namespace {

std::filesystem::path Traces() { return std::filesystem::path(FERRY_SOURCE_DIR) / "../shared/traces"; }

nlohmann::json Sim(std::vector<std::string> args) {
  args.insert(args.begin(), FerrySimPath());
  args.push_back("--json");
  RunResult run = RunProgram(args);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return run.exit_code == 0 ? nlohmann::json::parse(run.out) : nlohmann::json::array();
}

// libCacheSim's figures from ../shared/traces/README.md (object miss ratio; byte in brackets
// for cloudphysics). ferry-sim must agree to within 0.005.
TEST(FerrySim, AgreesWithTheReferenceSimulator) {
  if (!std::filesystem::exists(Traces() / "cache2k-web07.csv")) {
    GTEST_SKIP() << "no shared traces at " << Traces();
  }
  struct Row {
    const char* trace;
    const char* size;
    double lru, fifo, opt;
  };
  const Row rows[] = {
      {"cloudphysics", "1%", 0.8339, 0.8368, 0.8005},  {"cloudphysics", "5%", 0.8229, 0.8232, 0.7234},
      {"cloudphysics", "10%", 0.8097, 0.8075, 0.6513}, {"cache2k-web07", "1%", 0.6085, 0.6372, 0.4662},
      {"cache2k-web07", "5%", 0.4944, 0.5212, 0.3628}, {"cache2k-web07", "10%", 0.4434, 0.4688, 0.3191},
      {"cache2k-web12", "1%", 0.6030, 0.6237, 0.4154}, {"cache2k-web12", "5%", 0.4000, 0.4375, 0.2533},
      {"cache2k-web12", "10%", 0.3152, 0.3546, 0.1997},
  };
  for (const Row& row : rows) {
    auto results = Sim({"--trace", (Traces() / (std::string(row.trace) + ".csv")).string(),
                        "--policy", "lru,fifo,opt", "--size", row.size});
    ASSERT_EQ(results.size(), 3u);
    for (const auto& r : results) {
      double expected = r["policy"] == "lru" ? row.lru : r["policy"] == "fifo" ? row.fifo : row.opt;
      EXPECT_NEAR(r["miss_ratio"].get<double>(), expected, 0.005)
          << row.trace << " " << row.size << " " << r["policy"];
    }
  }
  auto bytes = Sim({"--trace", (Traces() / "cloudphysics.csv").string(), "--policy", "lru",
                    "--size", "10%"});
  EXPECT_NEAR(bytes[0]["byte_miss_ratio"].get<double>(), 0.9518, 0.005);
  auto unit = Sim({"--trace", (Traces() / "cloudphysics.csv").string(), "--policy", "lru,opt",
                   "--size", "5%", "--unit-size"});
  EXPECT_EQ(unit[0]["size_bytes"], 2448);
  EXPECT_NEAR(unit[0]["miss_ratio"].get<double>(), 0.8246, 0.005);
  EXPECT_NEAR(unit[1]["miss_ratio"].get<double>(), 0.7032, 0.005);
}

TEST(FerrySim, CurveWithoutSamplingIsTheExactReplay) {
  if (!std::filesystem::exists(Traces() / "cache2k-web12.csv")) GTEST_SKIP() << "no shared traces";
  std::string trace = (Traces() / "cache2k-web12.csv").string();
  auto curve = Sim({"--trace", trace, "--curve", "--sample-rate", "1"});
  ASSERT_EQ(curve.size(), 20u);
  double previous = 1.0;
  for (const auto& point : curve) {
    auto exact = Sim({"--trace", trace, "--size", std::to_string(point["size_bytes"].get<std::uint64_t>())});
    EXPECT_DOUBLE_EQ(point["miss_ratio"].get<double>(), exact[0]["miss_ratio"].get<double>());
    EXPECT_LE(point["miss_ratio"].get<double>(), previous + 0.01);  // larger caches miss less
    previous = point["miss_ratio"].get<double>();
  }
  auto sampled = Sim({"--trace", trace, "--curve", "--sample-rate", "0.2"});
  for (std::size_t i = 10; i < 20; ++i) {  // from 3.6% up, the sample tracks the whole
    EXPECT_NEAR(sampled[i]["miss_ratio"].get<double>(), curve[i]["miss_ratio"].get<double>(), 0.06)
        << curve[i]["size"];
  }
}

TEST(FerrySim, ReplaysWhatFerrydRecorded) {
  TempDir dir;
  std::filesystem::path trace = dir / "trace.csv";
  {
    Ferryd server({"--trace-out", trace.string()});
    WriteFile(server.data() / "a, b.txt", "12345");  // a comma in the name
    WriteFile(server.data() / "c.txt", "1234567890");
    auto client = client::Client::Connect({.server = server.address()});
    ASSERT_TRUE(client.ok());
    auto sink = [](std::string_view) { return Status::Ok(); };
    for (const char* name : {"a, b.txt", "c.txt", "a, b.txt", "a, b.txt"}) {
      ASSERT_TRUE((*client)->Get(*ObjectName::FromDecoded(name), 0, std::nullopt, sink).ok());
    }
    client->reset();
    ASSERT_EQ(server.Stop(), 0);
  }
  std::ifstream in(trace);
  std::string first;
  std::getline(in, first);
  EXPECT_NE(first.find(",a%2C%20b.txt,5"), std::string::npos) << first;
  auto results = Sim({"--trace", trace.string(), "--policy", "lru", "--size", "100%"});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["requests"], 4);
  EXPECT_DOUBLE_EQ(results[0]["miss_ratio"].get<double>(), 0.5);  // 2 cold misses of 4
}

}  // namespace
}  // namespace ferry::testing
