// The bounded cache in the real ferryd: limits under load, STATS, ls --cached.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "client/client.h"
#include "tests/ferryd_fixture.h"

namespace ferry::testing {
namespace {

// Bytes the cache's copies occupy on disk, temporary fills included (like `du`), but not the
// index beside them (.ferry/index and .ferry/journal), which the limit does not cover. Each
// inode counts once, as in du: a fill renamed into place during the walk can be met twice.
std::uint64_t AllocatedBytes(const std::filesystem::path& folder) {
  std::uint64_t total = 0;
  std::set<ino_t> seen;
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(folder, error);
       it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    std::string leaf = it->path().filename().string();
    bool index = it->path().parent_path().filename() == ".ferry" &&
                 (leaf.starts_with("index") || leaf == "journal");
    struct stat st;
    if (!index && ::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        seen.insert(st.st_ino).second) {
      total += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

TEST(BoundedCache, ThirtyTwoClientsNeverPushTheFolderOverItsLimit) {
  constexpr std::uint64_t kLimit = 2 << 20;  // 2 MiB for 40 files of up to 256 KiB: evictions
  Ferryd server({"--cache-max-bytes", "2M", "--cache-max-object", "512K"});
  std::vector<std::string> files;
  for (int i = 0; i < 40; ++i) {
    std::string name = "f" + std::to_string(i);
    WriteFile(server.data() / name, RandomBytes(static_cast<std::size_t>(64 + i * 5) << 10, i));
    files.push_back(name);
  }
  std::atomic<bool> done{false};
  std::uint64_t peak = 0;
  int samples = 0;
  std::thread sampler([&] {
    while (!done.load()) {
      peak = std::max(peak, AllocatedBytes(server.cache()));
      ++samples;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  std::vector<std::thread> clients;
  std::atomic<int> verified{0}, failed{0};
  for (int c = 0; c < 32; ++c) {
    clients.emplace_back([&, c] {
      auto client = client::Client::Connect({.server = server.address()});
      if (!client.ok()) return void(failed.fetch_add(1));
      for (int round = 0; round < 30; ++round) {
        // Skewed: low-numbered files are asked for far more often.
        int pick = (c * 7 + round * round) % 40;
        if (round % 2 == 0) pick %= 8;
        std::string expected = RandomBytes(static_cast<std::size_t>(64 + pick * 5) << 10, pick);
        std::string got;
        auto head = (*client)->Get(*ObjectName::FromDecoded(files[pick]), 0, std::nullopt,
                                   [&](std::string_view bytes) {
                                     got.append(bytes);
                                     return Status::Ok();
                                   });
        if (head.ok() && got == expected) {
          verified.fetch_add(1);
        } else {
          failed.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  done.store(true);
  sampler.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(verified.load(), 32 * 30);
  EXPECT_GT(samples, 10);
  EXPECT_LE(peak, kLimit) << "cache folder peaked at " << peak << " bytes";

  // A client has its last byte before its fill commits: wait for the fills to end, so the
  // counters and the listing below describe the same index.
  nlohmann::json json;
  for (int attempt = 0; attempt < 100; ++attempt) {
    RunResult stats = RunProgram({FerryPath(), "--server", server.address(), "--json", "stats"});
    ASSERT_EQ(stats.exit_code, 0) << stats.err;
    json = nlohmann::json::parse(stats.out);
    if (json["fills_in_flight"].get<int>() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(json["fills_in_flight"].get<int>(), 0);
  EXPECT_EQ(json["hits"].get<int>() + json["misses"].get<int>(), 32 * 30);
  EXPECT_GT(json["hits"].get<int>(), 0);
  EXPECT_GT(json["evictions"].get<int>(), 0);
  EXPECT_LE(json["bytes_cached"].get<std::uint64_t>(), kLimit);
  EXPECT_EQ(json["cache_max_bytes"].get<std::uint64_t>(), kLimit);
  RecordProperty("cache_hit_ratio", json["hit_ratio"].dump());

  RunResult cached = RunProgram({FerryPath(), "--server", server.address(), "--json", "ls", "--cached"});
  ASSERT_EQ(cached.exit_code, 0) << cached.err;
  auto listing = nlohmann::json::parse(cached.out);
  EXPECT_EQ(listing.size(), json["files_cached"].get<std::size_t>());
  for (const auto& entry : listing) EXPECT_TRUE(entry["cached"].get<bool>());
}

TEST(BoundedCache, ConcurrentGetsOfAColdFileReadTheDataStoreOnce) {
  constexpr std::size_t kSize = 64 << 20;
  constexpr int kClients = 16;
  Ferryd server({"--cache-max-bytes", "1G"});
  std::string bytes = RandomBytes(kSize, 77);
  WriteFile(server.data() / "cold.bin", bytes);
  std::vector<std::thread> clients;
  std::atomic<int> exact{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      auto client = client::Client::Connect({.server = server.address()});
      if (!client.ok()) return;
      std::string got;
      got.reserve(kSize);
      auto head = (*client)->Get(*ObjectName::FromDecoded("cold.bin"), 0, std::nullopt,
                                 [&](std::string_view chunk) {
                                   got.append(chunk);
                                   return Status::Ok();
                                 });
      if (head.ok() && got == bytes) exact.fetch_add(1);
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(exact.load(), kClients);
  auto client = client::Client::Connect({.server = server.address()});
  ASSERT_TRUE(client.ok());
  auto values = (*client)->Stats();
  ASSERT_TRUE(values.ok());
  std::map<std::string, std::string> stats;
  for (auto& v : *values) stats[v.name] = v.value;
  // One fill read the file; every GET streamed from it (or from the copy once it was ready).
  EXPECT_EQ(stats["store_bytes_read"], std::to_string(kSize));
  EXPECT_EQ(stats["misses"], "1");
  EXPECT_EQ(stats["hits"], std::to_string(kClients - 1));
  EXPECT_EQ(stats["bytes_from_store"], "0");
  EXPECT_EQ(stats["files_cached"], "1");
}

TEST(BoundedCache, RestartsCleanOrAfterACrashKeepTheCacheWithoutAScan) {
  Ferryd server;
  for (int i = 0; i < 5; ++i) WriteFile(server.data() / ("f" + std::to_string(i)), RandomBytes(9000, i));
  auto files_cached = [&] {
    auto client = client::Client::Connect({.server = server.address()});
    auto values = (*client)->Stats();
    for (auto& v : *values) {
      if (v.name == "files_cached") return v.value;
    }
    return std::string("?");
  };
  auto get_all = [&] {
    for (int i = 0; i < 5; ++i) {
      RunResult get = RunProgram({FerryPath(), "--server", server.address(), "get",
                                  "f" + std::to_string(i), "-o", (server.log().parent_path() / "out").string()});
      ASSERT_EQ(get.exit_code, 0) << get.err;
    }
  };
  // A client has its last byte a moment before its fill commits: wait for the commits.
  auto cached_becomes = [&](const std::string& n) {
    return Eventually([&] { return files_cached() == n; });
  };
  get_all();
  ASSERT_TRUE(cached_becomes("5")) << files_cached();
  ASSERT_EQ(server.Stop(), 0);
  EXPECT_TRUE(std::filesystem::exists(server.cache() / ".ferry/index"));
  server.Restart();
  EXPECT_EQ(files_cached(), "5");
  WriteFile(server.data() / "f5", RandomBytes(9000, 5));
  RunResult get5 = RunProgram({FerryPath(), "--server", server.address(), "get", "f5", "-o",
                               (server.log().parent_path() / "out").string()});
  ASSERT_EQ(get5.exit_code, 0);
  ASSERT_TRUE(cached_becomes("6")) << files_cached();
  server.Kill();  // a crash: the copy made since the start is known from the journal
  server.Restart();
  EXPECT_EQ(files_cached(), "6");
  // The log holds all three starts: the first (an empty folder) scanned, the others did not.
  std::string log = ReadFile(server.log());
  auto count = [&](std::string_view text) {
    std::size_t n = 0;
    for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("from a scan"), 1u) << log;
  EXPECT_EQ(count("from the index"), 2u) << log;
  get_all();  // every copy still serves exact bytes (the CLI verifies the checksum)
}

TEST(BoundedCache, KilledInTheMiddleOfFillsItRestartsConsistentAndServesExactBytes) {
  Ferryd server({"--cache-max-bytes", "256M"});
  constexpr int kFiles = 30;
  for (int i = 0; i < kFiles; ++i) {
    WriteRandomFile(server.data() / ("f" + std::to_string(i)), (1 + i % 4) << 20, 1000 + i);
  }
  for (int round = 0; round < 3; ++round) {
    // Cold GETs from 16 clients, so that fills are in flight when the kill comes.
    std::vector<pid_t> clients;
    for (int c = 0; c < 16; ++c) {
      clients.push_back(Spawn({FerryPath(), "--server", server.address(), "get",
                               "f" + std::to_string((c * 7 + round) % kFiles), "-o",
                               (server.log().parent_path() / ("out" + std::to_string(c))).string()}));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 15 * round));
    server.Kill();
    for (pid_t pid : clients) ::waitpid(pid, nullptr, 0);
    server.Restart();
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(server.cache() / ".ferry/tmp"),
                            std::filesystem::directory_iterator()), 0)
        << "interrupted fills left behind";
    // The index matches the folder: what ls --cached shows is what is on disk, complete.
    RunResult ls = RunProgram({FerryPath(), "--server", server.address(), "--json", "ls", "--cached"});
    ASSERT_EQ(ls.exit_code, 0) << ls.err;
    std::size_t on_disk = 0;
    for (auto& entry : std::filesystem::directory_iterator(server.cache())) {
      if (!entry.is_regular_file()) continue;
      ++on_disk;
      EXPECT_EQ(FileChecksum(entry.path()), FileChecksum(server.data() / entry.path().filename()))
          << "a corrupt copy survived the restart: " << entry.path();
    }
    EXPECT_EQ(nlohmann::json::parse(ls.out).size(), on_disk);
    // And every file, cached or not, comes back byte-exact (the client verifies the checksum).
    for (int i = 0; i < kFiles; ++i) {
      RunResult get = RunProgram({FerryPath(), "--server", server.address(), "get",
                                  "f" + std::to_string(i), "-o",
                                  (server.log().parent_path() / "check").string()});
      EXPECT_EQ(get.exit_code, 0) << "f" << i << ": " << get.err;
    }
  }
}

TEST(BoundedCache, LargeFilesBypassAndBadFlagsAreRefused) {
  Ferryd server({"--cache-max-bytes", "1M", "--cache-max-object", "64K"});
  WriteFile(server.data() / "big.bin", RandomBytes(100 << 10, 1));
  for (int i = 0; i < 3; ++i) {
    RunResult get = RunProgram({FerryPath(), "--server", server.address(), "get", "big.bin", "-o",
                                (server.data().parent_path() / "out.bin").string()});
    ASSERT_EQ(get.exit_code, 0) << get.err;
  }
  auto client = client::Client::Connect({.server = server.address()});
  ASSERT_TRUE(client.ok());
  auto values = (*client)->Stats();
  ASSERT_TRUE(values.ok()) << values.status().ToString();
  std::map<std::string, std::string> stats;
  for (auto& v : *values) stats[v.name] = v.value;
  EXPECT_EQ(stats["misses"], "3");
  EXPECT_EQ(stats["files_cached"], "0");
  EXPECT_FALSE(std::filesystem::exists(server.cache() / "big.bin"));
  EXPECT_EQ(RunProgram({FerrydPath(), "--cache-policy", "random"}).exit_code, 2);
  EXPECT_EQ(RunProgram({FerrydPath(), "--cache-max-bytes", "lots"}).exit_code, 2);
}

}  // namespace
}  // namespace ferry::testing
