// ferry bench against the real ferryd: its counts add up, every reply it verifies is checked
// for real (a server that serves wrong bytes fails the run), pacing never exceeds the rate,
// and bad options are usage errors. Figures are never asserted here (docs/performance.md).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>

#include "tests/ferryd_fixture.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

// The file of ferry bench's key `index` (prefix "bench/", six digits).
std::string KeyFile(int index) {
  char name[16];
  std::snprintf(name, sizeof(name), "%06d", index);
  return name;
}

class FerryBench : public ::testing::Test {
 protected:
  RunResult Bench(const std::string& address, std::vector<std::string> args) {
    args.insert(args.begin(), {FerryPath(), "--server", address, "bench"});
    return RunProgram(args, std::chrono::seconds(120));
  }
  static nlohmann::json Report(const RunResult& run) {
    EXPECT_FALSE(run.out.empty()) << run.err;
    return run.out.empty() ? nlohmann::json{} : nlohmann::json::parse(run.out);
  }
  TempDir local_;
};

TEST_F(FerryBench, APopulatedMixedLoadIsVerifiedAndItsCountsAddUp) {
  Ferryd server;
  RunResult run = Bench(server.address(), {"--json", "--populate", "--keys", "50", "--size", "64K", "--mix",
                                           "get=80,put=15,list=5", "-c", "8", "-t", "2", "-n", "2000",
                                           "--verify-every", "1", "--pipeline", "4"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  nlohmann::json report = Report(run);
  EXPECT_EQ(report["requests"], 2000);
  EXPECT_EQ(report["errors"], 0);
  EXPECT_EQ(report["verify_failures"], 0);
  EXPECT_EQ(report["verified"], 2000) << "every GET, PUT and LIST reply checked with --verify-every 1";
  nlohmann::json by_op = report["by_op"];
  EXPECT_EQ(by_op["get"].get<int>() + by_op["put"].get<int>() + by_op["list"].get<int>(), 2000);
  EXPECT_GT(by_op["put"].get<int>(), 0);
  EXPECT_GT(by_op["list"].get<int>(), 0);
  EXPECT_GE(report["bytes_in"].get<std::uint64_t>(), by_op["get"].get<std::uint64_t>() * 65536);
  for (int key : {0, 49}) {
    fs::path file = server.data() / "bench" / KeyFile(key);
    ASSERT_TRUE(fs::exists(file)) << file;
    EXPECT_EQ(fs::file_size(file), 65536u);
  }
  EXPECT_FALSE(fs::exists(server.data() / "bench" / KeyFile(50)));
}

TEST_F(FerryBench, AServerThatServesWrongBytesFailsTheRun) {
  // No cache and no memory tier, so every GET reads the data file that the test corrupts behind
  // ferryd's back.
  Ferryd server({"--cache-max-bytes", "0", "--memory-cache-max-bytes", "0"});
  fs::path original = local_ / "expected" / "f.bin";
  fs::create_directories(original.parent_path());
  WriteRandomFile(original, 100'000, 1);
  fs::copy_file(original, server.data() / "f.bin");
  std::vector<std::string> verify = {"--json", "-n", "20", "-c", "2", "--name", "f.bin", "--verify-every", "1",
                                     "--verify-dir", (local_ / "expected").string()};
  RunResult good = Bench(server.address(), verify);
  ASSERT_EQ(good.exit_code, 0) << good.out << good.err;
  EXPECT_EQ(Report(good)["verified"], 20);

  {  // Same size, one byte changed: only a checksum can tell.
    std::fstream file(server.data() / "f.bin", std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(50'000);
    file.put('\x5a' ^ RandomBytes(1, 2)[0]);
  }
  std::string claimed_before = FileChecksum(original);
  ASSERT_NE(FileChecksum(server.data() / "f.bin"), claimed_before);
  RunResult native = Bench(server.address(), verify);
  EXPECT_EQ(native.exit_code, 1) << native.out << native.err;
  EXPECT_GT(Report(native)["verify_failures"].get<int>(), 0) << native.out;

  std::vector<std::string> http = verify;
  http.insert(http.end(), {"--http", "--http-path", "/files/"});
  RunResult over_http = Bench("127.0.0.1:" + std::to_string(server.http_port()), http);
  EXPECT_EQ(over_http.exit_code, 1) << over_http.out << over_http.err;
  EXPECT_GT(Report(over_http)["verify_failures"].get<int>(), 0) << over_http.out;
}

TEST_F(FerryBench, HttpKeepAliveGetsOfTheRightBytes) {
  Ferryd server;
  WriteRandomFile(server.data() / "small.bin", 4096, 3);
  RunResult run = Bench("127.0.0.1:" + std::to_string(server.http_port()),
                        {"--json", "--http", "-n", "500", "-c", "4", "--name", "small.bin", "--verify-every", "7",
                         "--verify-dir", server.data().string()});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  nlohmann::json report = Report(run);
  EXPECT_EQ(report["requests"], 500);
  EXPECT_EQ(report["bytes_in"], 500 * 4096);
  EXPECT_EQ(report["verified"], 72);  // tickets 0, 7, ..., 497
}

TEST_F(FerryBench, APacedRunNeverExceedsItsRate) {
  Ferryd server;
  WriteRandomFile(server.data() / "small.bin", 4096, 4);
  RunResult run = Bench(server.address(), {"--json", "--rate", "200", "-c", "4", "-d", "2s", "--name", "small.bin"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  nlohmann::json report = Report(run);
  // 200/s for 2 s, each connection's first request due at once: at most 400 + one per connection.
  EXPECT_LE(report["requests"].get<int>(), 404);
  EXPECT_GT(report["requests"].get<int>(), 0);
  EXPECT_EQ(report["rate"], 200.0);
}

TEST_F(FerryBench, OptionsThatCannotWorkAreUsageErrorsAndAnAbsentServerAFailure) {
  Ferryd server;
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"--mix", "fetch=1"}, "unknown operation 'fetch'"},
           {{"--rate", "100", "--pipeline", "2"}, "--pipeline 1"},
           {{"--http", "--mix", "put"}, "GET only"},
           {{"-c", "0"}, "-c"},
           {{"--name", "../etc/passwd"}, "../etc/passwd"},
           {{"--size", "lots"}, "lots"},
       }) {
    RunResult run = Bench(server.address(), c.args);
    EXPECT_EQ(run.exit_code, 2) << c.args[0] << ": " << run.err;
    EXPECT_NE(run.err.find(c.says), std::string::npos) << run.err;
  }
  int unused_port = server.port();
  server.Stop();
  RunResult absent = Bench("127.0.0.1:" + std::to_string(unused_port), {"-n", "1"});
  EXPECT_EQ(absent.exit_code, 1);
  EXPECT_NE(absent.err.find("cannot connect"), std::string::npos) << absent.err;
}

}  // namespace
}  // namespace ferry::testing
