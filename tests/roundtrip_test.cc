// Round trips through the real ferry CLI and the client library against a real ferryd.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "client/client.h"
#include "tests/ferryd_fixture.h"

namespace ferry::testing {
namespace {

class RoundTrip : public ::testing::Test {
 protected:
  RunResult Ferry(std::vector<std::string> args) {
    args.insert(args.begin(), {FerryPath(), "--server", server_.address()});
    return RunProgram(args);
  }
  Ferryd server_;
  TempDir local_;
};

TEST_F(RoundTrip, SmallFilesByteExactWithOddNames) {
  struct Case {
    std::string name;
    std::size_t size;
  };
  std::vector<Case> cases = {{"empty.bin", 0}, {"one.bin", 1}, {"mib.bin", 1 << 20},
                             {"dir with space/ünïcödé €.txt", 1000},
                             {"deep/a/b/c/d/e.txt", 77}, {"%41 not decoded twice", 3}};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    std::string bytes = RandomBytes(c.size, i + 1);
    std::filesystem::path source = local_ / ("src-" + std::to_string(i));
    WriteFile(source, bytes);
    RunResult put = Ferry({"put", source.string(), c.name});
    ASSERT_EQ(put.exit_code, 0) << c.name << ": " << put.err;
    EXPECT_EQ(ReadFile(server_.data() / c.name), bytes) << c.name;
    std::filesystem::path target = local_ / ("dst-" + std::to_string(i));
    RunResult get = Ferry({"get", c.name, "-o", target.string()});
    ASSERT_EQ(get.exit_code, 0) << c.name << ": " << get.err;
    EXPECT_EQ(ReadFile(target), bytes) << c.name;
    EXPECT_FALSE(std::filesystem::exists(target.string() + ".ferry-part"));
  }
  RunResult ls = Ferry({"--json", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  auto listing = nlohmann::json::parse(ls.out);
  ASSERT_EQ(listing.size(), cases.size());
  for (const auto& entry : listing) {
    auto it = std::find_if(cases.begin(), cases.end(),
                           [&](const Case& c) { return c.name == entry["name"]; });
    ASSERT_NE(it, cases.end()) << entry.dump();
    EXPECT_EQ(entry["size"], it->size);
    EXPECT_TRUE(entry["mtime"].is_number_integer());
    EXPECT_TRUE(entry["cached"].is_boolean());
  }
  RunResult prefixed = Ferry({"--json", "ls", "dir with space/"});
  ASSERT_EQ(prefixed.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(prefixed.out).size(), 1u);
}

TEST_F(RoundTrip, StatJsonAndCacheMark) {
  std::string bytes = "cache me";
  WriteFile(local_ / "f.txt", bytes);
  ASSERT_EQ(Ferry({"put", (local_ / "f.txt").string()}).exit_code, 0);
  RunResult before = Ferry({"--json", "stat", "f.txt"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  auto stat = nlohmann::json::parse(before.out);
  EXPECT_EQ(stat["name"], "f.txt");
  EXPECT_EQ(stat["size"], bytes.size());
  EXPECT_EQ(stat["checksum"], FileChecksum(local_ / "f.txt"));
  EXPECT_EQ(stat["cached"], false);
  ASSERT_EQ(Ferry({"get", "f.txt", "-o", (local_ / "copy").string()}).exit_code, 0);
  // The first GET copies the file into the cache in the background.
  bool cached = false;
  for (int i = 0; i < 500 && !cached; ++i) {
    cached = nlohmann::json::parse(Ferry({"--json", "stat", "f.txt"}).out)["cached"];
    if (!cached) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(cached);
  EXPECT_EQ(ReadFile(server_.cache() / "f.txt"), bytes);
}

TEST_F(RoundTrip, RemoveAndExitCodes) {
  WriteFile(local_ / "gone.txt", "x");
  ASSERT_EQ(Ferry({"put", (local_ / "gone.txt").string()}).exit_code, 0);
  EXPECT_EQ(Ferry({"rm", "gone.txt"}).exit_code, 0);
  RunResult again = Ferry({"rm", "gone.txt"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("404"), std::string::npos) << again.err;
  RunResult missing = Ferry({"get", "nope.txt", "-o", (local_ / "nope").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(local_ / "nope"));
  EXPECT_FALSE(std::filesystem::exists(local_ / "nope.ferry-part"));
  EXPECT_EQ(Ferry({"get", "../etc/passwd"}).exit_code, 2);  // refused before connecting
  EXPECT_EQ(Ferry({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(RunProgram({FerryPath(), "--server", "127.0.0.1:1", "ls"}).exit_code, 1);
  RunResult help = RunProgram({FerryPath(), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Exit codes"), std::string::npos);
}

// Regression: `get -o /dev/null` renamed its part file over the device, replacing /dev/null
// with a regular file (found when a test timed downloads that way). Devices and FIFOs are
// written in place; a folder receives the file under its base name.
TEST_F(RoundTrip, GetIntoAFifoOrAFolderLeavesThemWhatTheyAre) {
  std::string bytes = RandomBytes(300000, 9);
  WriteFile(local_ / "src", bytes);
  ASSERT_EQ(Ferry({"put", (local_ / "src").string(), "dir/f.bin"}).exit_code, 0);
  std::filesystem::path fifo = local_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::string received;
  std::thread reader([&] { received = ReadFile(fifo); });
  RunResult get = Ferry({"get", "dir/f.bin", "-o", fifo.string()});
  reader.join();
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(received, bytes);
  EXPECT_TRUE(std::filesystem::is_fifo(fifo));
  EXPECT_FALSE(std::filesystem::exists(fifo.string() + ".ferry-part"));
  std::filesystem::create_directory(local_ / "into");
  ASSERT_EQ(Ferry({"get", "dir/f.bin", "-o", (local_ / "into").string()}).exit_code, 0);
  EXPECT_EQ(ReadFile(local_ / "into/f.bin"), bytes);
}

TEST_F(RoundTrip, SixtyFourClientsAtOnce) {
  constexpr int kClients = 64;
  std::atomic<int> verified{0};
  std::vector<std::thread> threads;
  std::vector<std::string> failures(kClients);
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto fail = [&](const std::string& what) { failures[i] = what; };
      std::string bytes = RandomBytes(static_cast<std::size_t>(1000 + i * 16411), 100 + i);
      std::filesystem::path source = local_ / ("c" + std::to_string(i));
      WriteFile(source, bytes);
      auto client = client::Client::Connect({.server = server_.address()});
      if (!client.ok()) return fail(client.status().ToString());
      ObjectName name = *ObjectName::FromDecoded("clients/" + std::to_string(i) + ".bin");
      auto put = client::UploadFile(**client, source.string(), name);
      if (!put.ok()) return fail(put.status().ToString());
      std::filesystem::path target = local_ / ("d" + std::to_string(i));
      for (int round = 0; round < 3; ++round) {  // the later rounds may come from the cache
        auto get = client::DownloadFile(**client, name, target.string());
        if (!get.ok()) return fail(get.status().ToString());
        if (ReadFile(target) != bytes) return fail("bytes differ");
      }
      verified.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(failures[i], "") << "client " << i;
  EXPECT_EQ(verified.load(), kClients);
  auto client = client::Client::Connect({.server = server_.address()});
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->List("clients/")->size(), static_cast<std::size_t>(kClients));
}

// 1 GiB in each direction at once, byte-exact, while the server stays small. The bound is on
// growth over the idle server: a sanitizer build starts at ~65 MiB (its binary's data section).
TEST_F(RoundTrip, OneGiBBothWaysWithBoundedServerMemory) {
  constexpr std::uint64_t kSize = std::uint64_t{1} << 30;
  const std::uint64_t idle = server_.RssBytes();
  ASSERT_GT(idle, 0u);
  std::filesystem::path source = local_ / "big.bin";
  WriteRandomFile(source, kSize, 42);
  std::string checksum = FileChecksum(source);
  RunResult put = Ferry({"put", source.string(), "big/one.bin"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(FileChecksum(server_.data() / "big/one.bin"), checksum);

  // Stream one out and another in at the same time, sampling the server's memory.
  std::atomic<bool> done{false};
  std::uint64_t peak_sampled = 0;
  std::thread sampler([&] {
    while (!done.load()) {
      peak_sampled = std::max(peak_sampled, server_.RssBytes());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::filesystem::path download = local_ / "down.bin";
  std::thread getter([&] {
    RunResult get = Ferry({"get", "big/one.bin", "-o", download.string()});
    EXPECT_EQ(get.exit_code, 0) << get.err;
  });
  RunResult put2 = Ferry({"put", source.string(), "big/two.bin"});
  getter.join();
  done.store(true);
  sampler.join();
  ASSERT_EQ(put2.exit_code, 0) << put2.err;
  EXPECT_EQ(FileChecksum(download), checksum);
  std::filesystem::remove(download);
  EXPECT_EQ(FileChecksum(server_.data() / "big/two.bin"), checksum);
  std::uint64_t peak = std::max(peak_sampled, server_.PeakRssBytes());
  EXPECT_LT(peak - idle, 64u << 20)
      << "server RSS grew from " << (idle >> 20) << " to " << (peak >> 20) << " MiB";
  RecordProperty("server_rss_growth_mib", static_cast<int>((peak - idle) >> 20));
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

TEST(ClientConfig, NamedServersAndPrecedence) {
  Ferryd server;
  TempDir local;
  std::filesystem::path config = local / "config.toml";
  std::ofstream(config) << "server = \"here\"\n[servers.here]\naddress = \"" << server.address()
                        << "\"\n[servers.nowhere]\naddress = \"127.0.0.1:1\"\n";
  auto ferry = [&](std::vector<std::string> args) {
    args.insert(args.begin(), FerryPath());
    return RunProgram(args, std::chrono::seconds(30));
  };
  // The file's default server, a name given with --server, and an address.
  EXPECT_EQ(ferry({"--config", config.string(), "ls"}).exit_code, 0);
  EXPECT_EQ(ferry({"--config", config.string(), "--server", "here", "ls"}).exit_code, 0);
  EXPECT_EQ(ferry({"--config", config.string(), "--server", "nowhere", "ls"}).exit_code, 1);
  // FERRY_SERVER comes between --server and the file.
  ::setenv("FERRY_SERVER", "nowhere", 1);
  EXPECT_EQ(ferry({"--config", config.string(), "ls"}).exit_code, 1);
  EXPECT_EQ(ferry({"--config", config.string(), "--server", "here", "ls"}).exit_code, 0);
  ::unsetenv("FERRY_SERVER");
  RunResult unknown = ferry({"--config", config.string(), "--server", "work", "ls"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("here, nowhere"), std::string::npos) << unknown.err;
  std::ofstream(local / "bad.toml") << "sever = 1\n";
  RunResult bad = ferry({"--config", (local / "bad.toml").string(), "ls"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown key 'sever'"), std::string::npos) << bad.err;
  EXPECT_EQ(ferry({"--config", (local / "missing.toml").string(), "ls"}).exit_code, 2);
}

}  // namespace
}  // namespace ferry::testing
