// Resume, both ways: the real ferry against a real ferryd, its connections cut at random byte
// offsets by a relay, again and again; every result must be byte-exact, and the bytes moved in
// all must show that each try continued the last instead of starting over.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/file.h>

#include <fcntl.h>
#include <unistd.h>

#include <random>

#include "tests/ferryd_fixture.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kSize = 8 << 20;
constexpr int kCuts = 20;
// Each try moves at most this much before its cut, so 20 cuts never finish the file alone.
constexpr std::uint64_t kMaxStep = kSize / (kCuts + 5);
// Request and reply lines of all the tries together stay far below this.
constexpr std::uint64_t kLineOverhead = 64 * 1024;

std::vector<fs::path> FilesIn(const fs::path& folder) {
  std::vector<fs::path> files;
  if (!fs::exists(folder)) return files;
  for (const auto& entry : fs::directory_iterator(folder)) files.push_back(entry.path());
  return files;
}

// True once no writer holds the partial upload (the server noticed the cut and let go).
bool PartialsUnlocked(const fs::path& folder) {
  for (const fs::path& file : FilesIn(folder)) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    ::close(fd);
    if (!free) return false;
  }
  return true;
}

class Resume : public ::testing::Test {
 protected:
  RunResult Ferry(std::vector<std::string> args, int port) {
    args.insert(args.begin(), {FerryPath(), "--server", "127.0.0.1:" + std::to_string(port)});
    return RunProgram(args, std::chrono::seconds(60));
  }
  fs::path partials() const { return server_.data() / ".ferry/partial"; }

  Ferryd server_;
  TempDir local_;
  std::mt19937_64 random_{20261125};
};

TEST_F(Resume, GetContinuesAfterCutsAtRandomOffsets) {
  WriteRandomFile(server_.data() / "big.bin", kSize, 1);
  CuttingProxy proxy(server_.port());
  fs::path out = local_ / "big.bin";
  for (int i = 0; i < kCuts; ++i) {
    std::uint64_t cut = std::uniform_int_distribution<std::uint64_t>(1, kMaxStep)(random_);
    proxy.CutNext(CuttingProxy::kToClient, cut);
    RunResult run = Ferry({"get", "big.bin", "-o", out.string()}, proxy.port());
    EXPECT_EQ(run.exit_code, 1) << "cut at " << cut << ": " << run.err;
    EXPECT_FALSE(fs::exists(out)) << "an incomplete download must not take the name";
  }
  EXPECT_TRUE(fs::exists(local_ / "big.bin.ferry-part"));
  RunResult last = Ferry({"--json", "get", "big.bin", "-o", out.string()}, proxy.port());
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_EQ(FileChecksum(out), FileChecksum(server_.data() / "big.bin"));
  EXPECT_FALSE(fs::exists(local_ / "big.bin.ferry-part"));
  EXPECT_GT(nlohmann::json::parse(last.out)["resumed_from"].get<std::uint64_t>(), 0u);
  EXPECT_LT(proxy.forwarded(CuttingProxy::kToClient), kSize + kLineOverhead)
      << "every try must continue the last, not start over";
}

TEST_F(Resume, GetStartsOverWhenTheFileChanged) {
  WriteRandomFile(server_.data() / "f.bin", kSize, 2);
  CuttingProxy proxy(server_.port());
  fs::path out = local_ / "f.bin";
  proxy.CutNext(CuttingProxy::kToClient, kSize / 2);
  EXPECT_EQ(Ferry({"get", "f.bin", "-o", out.string()}, proxy.port()).exit_code, 1);
  ASSERT_TRUE(fs::exists(local_ / "f.bin.ferry-part"));
  WriteRandomFile(server_.data() / "f.bin", kSize, 3);  // same size, other bytes
  RunResult run = Ferry({"--json", "get", "f.bin", "-o", out.string()}, proxy.port());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(nlohmann::json::parse(run.out)["resumed_from"], 0);
  EXPECT_EQ(FileChecksum(out), FileChecksum(server_.data() / "f.bin"));
}

TEST_F(Resume, PutContinuesAfterCutsAtRandomOffsets) {
  fs::path source = local_ / "up.bin";
  WriteRandomFile(source, kSize, 4);
  CuttingProxy proxy(server_.port());
  for (int i = 0; i < kCuts; ++i) {
    std::uint64_t cut = std::uniform_int_distribution<std::uint64_t>(1, kMaxStep)(random_);
    proxy.CutNext(CuttingProxy::kToServer, cut);
    RunResult run = Ferry({"put", source.string(), "dir/up.bin"}, proxy.port());
    EXPECT_EQ(run.exit_code, 1) << "cut at " << cut << ": " << run.err;
    EXPECT_FALSE(fs::exists(server_.data() / "dir/up.bin"));
    ASSERT_TRUE(Eventually([&] { return PartialsUnlocked(partials()); }));
  }
  EXPECT_EQ(server_.PartialFiles(), 1u) << "one partial upload, kept for the next try";
  RunResult ls = Ferry({"ls"}, server_.port());
  EXPECT_EQ(ls.out, "") << "a partial upload is never listed";

  RunResult last = Ferry({"--json", "put", source.string(), "dir/up.bin"}, proxy.port());
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_GT(nlohmann::json::parse(last.out)["resumed_from"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(FileChecksum(server_.data() / "dir/up.bin"), FileChecksum(source));
  EXPECT_LT(proxy.forwarded(CuttingProxy::kToServer), kSize + kLineOverhead)
      << "every try must continue the last, not start over";
  EXPECT_EQ(server_.PartialFiles(), 0u) << "the partial became the file";
  EXPECT_EQ(server_.TmpFiles(), 0u);
}

TEST_F(Resume, PutOfOtherBytesUnderTheSameNameStartsOver) {
  fs::path first = local_ / "a";
  WriteRandomFile(first, kSize, 5);
  CuttingProxy proxy(server_.port());
  proxy.CutNext(CuttingProxy::kToServer, kSize / 2);
  EXPECT_EQ(Ferry({"put", first.string(), "x.bin"}, proxy.port()).exit_code, 1);
  ASSERT_TRUE(Eventually([&] { return PartialsUnlocked(partials()); }));
  fs::path second = local_ / "b";
  WriteRandomFile(second, kSize, 6);  // same size and name, another checksum
  RunResult run = Ferry({"--json", "put", second.string(), "x.bin"}, server_.port());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(nlohmann::json::parse(run.out)["resumed_from"], 0);
  EXPECT_EQ(FileChecksum(server_.data() / "x.bin"), FileChecksum(second));
}

TEST(ResumeExpiry, PartialUploadsExpireAfterTheirTtl) {
  Ferryd server({"--partial-ttl", "1s"});
  TempDir local;
  fs::path source = local / "up.bin";
  WriteRandomFile(source, kSize, 7);
  CuttingProxy proxy(server.port());
  proxy.CutNext(CuttingProxy::kToServer, kSize / 2);
  RunResult cut = RunProgram({FerryPath(), "--server", "127.0.0.1:" + std::to_string(proxy.port()),
                              "put", source.string()});
  EXPECT_EQ(cut.exit_code, 1);
  ASSERT_EQ(server.PartialFiles(), 1u);
  // The sweep runs every second; the partial is older than 1 s after at most ~2 s.
  EXPECT_TRUE(Eventually([&] { return server.PartialFiles() == 0; }))
      << "the partial upload outlived --partial-ttl";
}

}  // namespace
}  // namespace ferry::testing
