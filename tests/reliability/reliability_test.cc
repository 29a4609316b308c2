// Nothing lost, ever: the real ferryd under injected faults and load (docs/reliability.md).
// Killed with SIGKILL in the middle of uploads, filled up on small tmpfs mounts, cut by
// clients that vanish or talk nonsense, held by 10,000 idle connections while others
// transfer, and soaked by 200 clients whose every reply is checked against a model.
//
// Counts are modest under `make test` and large under `make torture` (FERRY_TORTURE=1);
// FERRY_SOAK_SECONDS overrides the soak's length. Every loop is bounded in count and time,
// every process and mount is undone by an owner, and all traffic stays on 127.0.0.1.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "common/checksum.h"
#include "tests/ferryd_fixture.h"
#include "tests/raw_socket.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool Torture() { return std::getenv("FERRY_TORTURE") != nullptr; }
int Scaled(int in_make_test, int in_torture) { return Torture() ? in_torture : in_make_test; }

std::string ChecksumOf(std::string_view bytes) {
  Hasher hasher(ChecksumAlgo::kXxh128);
  hasher.Update(bytes);
  return hasher.Finish().ToString();
}

// A native PUT of `body` on `s`: the reply line, or "" if the server went away first.
std::string PutOver(const Socket& s, const std::string& name, std::string_view body) {
  if (!SendAll(s, "PUT " + name + " " + std::to_string(body.size()) + "\n")) return "";
  for (std::size_t at = 0; at < body.size(); at += 64 << 10) {
    if (!SendAll(s, body.substr(at, 64 << 10))) return "";
  }
  return ReadLineFrom(s, 30s);
}

// A native GET of a whole file on `s`: the body's checksum, "404" if it does not exist, or
// "" if the reply was anything else or cut.
std::string GetChecksumOver(const Socket& s, const std::string& name) {
  if (!SendAll(s, "GET " + name + "\n")) return "";
  std::string line = ReadLineFrom(s, 30s);
  if (line.starts_with("ERR 404")) return "404";
  // "OK <length> <size> <checksum>\n", then the bytes; ReadLineFrom may have read past the line.
  std::size_t end = line.find('\n');
  if (!line.starts_with("OK ") || end == std::string::npos) return "";
  std::string rest = line.substr(end + 1);
  std::uint64_t length = std::strtoull(line.c_str() + 3, nullptr, 10);
  std::string body = ReadExactFrom(s, length, rest, 30s);
  return body.size() == length ? ChecksumOf(body) : "";
}

// ---------------------------------------------------------------------------------------------
// 1. Crash during upload: every file is its old or its new complete version after each kill.

struct Version {
  std::uint64_t seed = 0;
  std::size_t size = 0;
  std::string checksum;
};

struct Tracked {
  std::optional<Version> acked;      // the last version whose PUT was answered OK
  std::optional<Version> in_flight;  // sent when the server died: it may or may not have landed
};

TEST(CrashDuringUpload, EveryFileIsItsOldOrItsNewVersionAfterEachKill) {
  const int kills = Scaled(20, 200);
  constexpr int kWriters = 6;
  constexpr int kSlots = 4;  // names each writer overwrites; one PUT in five is a new name
  Ferryd server;
  std::vector<std::map<std::string, Tracked>> owned(kWriters);  // writer w alone touches owned[w]
  std::mt19937 random(2026);
  int acked_puts = 0, landed_in_flight = 0, checked = 0, corrupt = 0;

  // After a restart: each file is exactly the version last acknowledged (or absent if none
  // was) or the one in flight at the kill, which then counts as the acknowledged one.
  auto verify = [&](int trial) {
    for (auto& files : owned) {
      for (auto& [name, tracked] : files) {
        fs::path path = server.data() / name;
        std::optional<std::string> on_disk;
        if (fs::exists(path)) on_disk = FileChecksum(path);
        bool old_version = tracked.acked ? on_disk == tracked.acked->checksum : !on_disk;
        bool new_version = tracked.in_flight && on_disk == tracked.in_flight->checksum;
        if (new_version) {
          tracked.acked = tracked.in_flight;
          ++landed_in_flight;
        }
        if (!old_version && !new_version) {
          ++corrupt;
          ADD_FAILURE() << "after kill " << trial << ", " << name << " is "
                        << on_disk.value_or("missing") << ": neither "
                        << (tracked.acked ? tracked.acked->checksum : "absent") << " nor "
                        << (tracked.in_flight ? tracked.in_flight->checksum : "-");
        }
        tracked.in_flight.reset();
        ++checked;
      }
    }
  };

  for (int trial = 0; trial < kills; ++trial) {
    std::atomic<int> acked{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        std::mt19937 r(static_cast<unsigned>(trial * 1000 + w));
        Socket s = Connect(server.port());
        for (int n = 0; s.ok() && n < 10'000; ++n) {
          std::string name = r() % 5 == 0
                                 ? "crash/w" + std::to_string(w) + "/new-" +
                                       std::to_string(trial) + "-" + std::to_string(n)
                                 : "crash/w" + std::to_string(w) + "/slot-" +
                                       std::to_string(r() % kSlots);
          Version version{(std::uint64_t{1} << 40) * (w + 1) + trial * 100'000u + n,
                          r() % (768u << 10), ""};
          std::string body = RandomBytes(version.size, version.seed);
          version.checksum = ChecksumOf(body);
          Tracked& tracked = owned[w][name];
          tracked.in_flight = version;
          std::string reply = PutOver(s, name, body);
          if (!reply.starts_with("OK ")) {
            if (!reply.empty()) refused.fetch_add(1);  // an answer, but not OK: not a crash
            break;
          }
          tracked.acked = version;
          tracked.in_flight.reset();
          acked.fetch_add(1);
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + random() % 300));
    server.Kill();
    for (auto& t : writers) t.join();
    EXPECT_EQ(refused.load(), 0) << "trial " << trial;
    acked_puts += acked.load();
    server.Restart();
    EXPECT_EQ(server.TmpFiles(), 0u) << "temporary files survived restart " << trial;
    verify(trial);
  }

  // And what the server serves is what the folder holds: every file, byte-exact.
  Socket s = Connect(server.port());
  ASSERT_TRUE(s.ok());
  int served = 0;
  for (const auto& files : owned) {
    for (const auto& [name, tracked] : files) {
      std::string got = GetChecksumOver(s, name);
      EXPECT_EQ(got, tracked.acked ? tracked.acked->checksum : "404") << name;
      ++served;
    }
  }
  EXPECT_EQ(corrupt, 0);
  EXPECT_GT(acked_puts, kills);  // the kills landed among running uploads, not before them
  std::printf("crash during upload: %d kills, %d PUTs acknowledged, %d in flight landed, "
              "%d file checks, %d files served, %d corrupt or lost\n",
              kills, acked_puts, landed_in_flight, checked, served, corrupt);
  RecordProperty("kills", kills);
  RecordProperty("acked_puts", acked_puts);
  RecordProperty("file_checks", checked);
  RecordProperty("corrupt_or_lost", corrupt);
}

// ---------------------------------------------------------------------------------------------
// 1b. Crash during cache fills and evictions: after each restart the cache's index matches its
// folder, every copy holds its file's bytes, and every GET is exact.

TEST(CrashDuringFills, TheCacheRestartsConsistentAndNothingCorruptIsServed) {
  const int kills = Scaled(10, 100);
  constexpr int kFiles = 40;
  constexpr int kReaders = 8;
  // 40 files of 64-454 KiB through a 4 MiB cache: fills and evictions all the time.
  Ferryd server({"--cache-max-bytes", "4M"});
  std::vector<std::string> checksums;
  for (int f = 0; f < kFiles; ++f) {
    std::string body = RandomBytes((64u << 10) + f * (10u << 10), 700 + f);
    WriteFile(server.data() / ("fill/f" + std::to_string(f)), body);
    checksums.push_back(ChecksumOf(body));
  }
  auto cached_files = [&] {
    RunResult stats = RunProgram({FerryPath(), "--server", server.address(), "--json", "stats"});
    return stats.exit_code == 0 ? nlohmann::json::parse(stats.out)["files_cached"].get<int>() : -1;
  };
  std::mt19937 random(7);
  int served = 0, corrupt = 0, copies_checked = 0;
  for (int trial = 0; trial <= kills; ++trial) {
    // Every copy in the folder holds its file's bytes, and the index knows exactly those.
    int copies = 0;
    for (const auto& entry : fs::recursive_directory_iterator(server.cache())) {
      std::string relative = fs::relative(entry.path(), server.cache()).string();
      if (!entry.is_regular_file() || relative.starts_with(".ferry")) continue;
      ++copies;
      int f = std::atoi(relative.c_str() + relative.rfind('f') + 1);
      if (FileChecksum(entry.path()) != checksums[f]) {
        ++corrupt;
        ADD_FAILURE() << "after kill " << trial << " the copy of " << relative << " is corrupt";
      }
    }
    copies_checked += copies;
    EXPECT_EQ(cached_files(), copies) << "the index and the folder disagree after kill " << trial;
    if (trial == kills) break;

    std::atomic<int> exact{0}, wrong{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < kReaders; ++r) {
      readers.emplace_back([&, r] {
        std::mt19937 pick(static_cast<unsigned>(trial * 100 + r));
        Socket s = Connect(server.port());
        for (int n = 0; s.ok() && n < 100'000; ++n) {
          int f = static_cast<int>(pick() % kFiles);
          std::string got = GetChecksumOver(s, "fill/f" + std::to_string(f));
          if (got.empty()) break;  // the kill cut it: not an answer
          (got == checksums[f] ? exact : wrong).fetch_add(1);
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + random() % 300));
    server.Kill();
    for (auto& t : readers) t.join();
    EXPECT_EQ(wrong.load(), 0) << "trial " << trial;
    served += exact.load();
    corrupt += wrong.load();
    server.Restart();
    EXPECT_EQ(std::distance(fs::directory_iterator(server.cache() / ".ferry/tmp"),
                            fs::directory_iterator()),
              0)
        << "interrupted fills survived restart " << trial;
  }
  // And every file, once more through the restarted server.
  Socket s = Connect(server.port());
  for (int f = 0; f < kFiles; ++f) {
    EXPECT_EQ(GetChecksumOver(s, "fill/f" + std::to_string(f)), checksums[f]);
  }
  EXPECT_EQ(corrupt, 0);
  EXPECT_GT(served, kills);
  std::printf("crash during fills: %d kills, %d GETs verified before them, %d copies checked "
              "after restarts, %d corrupt\n",
              kills, served, copies_checked, corrupt);
  RecordProperty("kills", kills);
  RecordProperty("corrupt", corrupt);
}

// ---------------------------------------------------------------------------------------------
// 2. Disk full: the data store and the cache on tmpfs mounts small enough to fill.

TEST(DiskFull, UploadsThatDoNotFitGet507AndTheServerRecoversWhenSpaceIsFreed) {
  TempDir data_mount;
  TempDir cache_mount;
  TmpfsMount data_fs(data_mount.path(), "size=16m");
  if (!data_fs.ok()) GTEST_SKIP() << "cannot mount a tmpfs here: " << data_fs.error();
  TmpfsMount cache_fs(cache_mount.path(), "size=4m");
  ASSERT_TRUE(cache_fs.ok()) << cache_fs.error();
  // --min-free 0: the disk itself says no (ENOSPC), not the reserve (security_test covers it).
  // The cache may hold more than its tmpfs: it is the device that fills, not the limit.
  Ferryd server({"--data", (data_mount / "data").string(), "--cache",
                 (cache_mount / "cache").string(), "--min-free", "0", "--cache-max-bytes", "64M"});
  std::map<std::string, std::string> stored;  // name -> checksum
  Socket s = Connect(server.port());
  ASSERT_TRUE(s.ok());
  for (int i = 0; i < 5; ++i) {  // 10 MiB of 16
    std::string name = "full/keep-" + std::to_string(i);
    std::string body = RandomBytes(2u << 20, 100 + i);
    ASSERT_TRUE(PutOver(s, name, body).starts_with("OK ")) << name;
    stored[name] = ChecksumOf(body);
  }
  // Does not fit: 507, with size announced (refused before a byte lands) and without (the
  // disk fills mid-body); either way nothing of it stays.
  std::string too_big = RandomBytes(8u << 20, 7);
  for (int attempt = 0; attempt < 3; ++attempt) {
    Socket c = Connect(server.port());
    std::string reply = PutOver(c, "full/too-big", too_big);
    EXPECT_TRUE(reply.starts_with("ERR 507")) << reply;
    Socket eof = Connect(server.port());
    ASSERT_TRUE(SendAll(eof, "PUT full/too-big-eof\n"));
    SendAll(eof, too_big);
    HalfClose(eof);
    std::string eof_reply = ReadLineFrom(eof);
    EXPECT_TRUE(eof_reply.starts_with("ERR 507")) << eof_reply;
    EXPECT_FALSE(fs::exists(server.data() / "full/too-big"));
    EXPECT_FALSE(fs::exists(server.data() / "full/too-big-eof"));
    EXPECT_TRUE(Eventually([&] { return server.TmpFiles() == 0; }));
  }
  // Reads go on from the full disk, and the cache on its full tmpfs stops admitting but
  // serves: every GET byte-exact, twice (the second may come from the cache).
  for (int round = 0; round < 2; ++round) {
    for (const auto& [name, checksum] : stored) EXPECT_EQ(GetChecksumOver(s, name), checksum);
  }
  // Freeing space is all it takes: no restart.
  Socket del = Connect(server.port());
  for (int i = 0; i < 4; ++i) {
    std::string name = "full/keep-" + std::to_string(i);
    ASSERT_TRUE(SendAll(del, "DEL " + name + "\n"));
    EXPECT_EQ(ReadLineFrom(del), "OK\n");
    stored.erase(name);
  }
  Socket again = Connect(server.port());
  std::string reply = PutOver(again, "full/too-big", too_big);
  EXPECT_TRUE(reply.starts_with("OK ")) << "after freeing 8 MiB: " << reply;
  stored["full/too-big"] = ChecksumOf(too_big);
  for (const auto& [name, checksum] : stored) EXPECT_EQ(GetChecksumOver(again, name), checksum);
}

// ---------------------------------------------------------------------------------------------
// 3. Network faults: clients that vanish mid-request, mid-upload or mid-download, half-close
// at odd times or send garbage leak no descriptor, temporary file or memory.

// One misbehaving client of kind `kind` (0-8); returns when it is done with the server.
void Misbehave(const Ferryd& server, int kind, int i) {
  const std::string n = std::to_string(i);
  switch (kind) {
    case 0: {  // connects and resets at once
      Socket s = Connect(server.port());
      Reset(s);
      break;
    }
    case 1: {  // resets mid-download
      Socket s = Connect(server.port(), nullptr, 16 << 10);
      SendAll(s, "GET big.bin\n");
      ReadLineFrom(s);
      Reset(s);
      break;
    }
    case 2: {  // resets mid-upload
      Socket s = Connect(server.port());
      SendAll(s, "PUT vanish/r" + n + " 1000000\n" + std::string(70'000, 'x'));
      Reset(s);
      break;
    }
    case 3: {  // half-closes mid-upload: the body is short
      Socket s = Connect(server.port());
      SendAll(s, "PUT vanish/h" + n + " 1000000\n" + std::string(70'000, 'x'));
      HalfClose(s);
      ReadAllFrom(s, 10s);
      break;
    }
    case 4: {  // half-closes in the middle of a request line
      Socket s = Connect(server.port());
      SendAll(s, "LIST vani");
      HalfClose(s);
      ReadAllFrom(s, 10s);
      break;
    }
    case 5: {  // garbage: control bytes, a NUL, a line far over the limit
      Socket s = Connect(server.port());
      std::string garbage = RandomBytes(3000, i) + std::string(20'000, 'A') + "\n\0\x01\n";
      SendAll(s, garbage);
      HalfClose(s);
      ReadAllFrom(s, 10s);
      break;
    }
    case 6: {  // HTTP: resets mid-download
      Socket s = Connect(server.http_port(), nullptr, 16 << 10);
      SendAll(s, "GET /files/big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
      ReadLineFrom(s);
      Reset(s);
      break;
    }
    case 7: {  // HTTP: resets mid-upload
      Socket s = Connect(server.http_port());
      SendAll(s, "PUT /files/vanish/p" + n +
                     " HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" +
                     std::string(70'000, 'y'));
      Reset(s);
      break;
    }
    default: {  // HTTP garbage, then a half-close
      Socket s = Connect(server.http_port());
      SendAll(s, "GET /files/big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=oops\r\n" +
                     RandomBytes(500, i) + "\r\n\r\n");
      HalfClose(s);
      ReadAllFrom(s, 10s);
      break;
    }
  }
}

TEST(NetworkFaults, ClientsThatVanishOrTalkNonsenseLeakNothing) {
  const int rounds = Scaled(300, 5000);
  constexpr int kKinds = 9;
  // Under ASan, freed memory waits in a quarantine of up to 256 MiB, which RSS would count as
  // a leak: keep it small for this server (LSan checks real leaks when it exits).
  if (const char* asan = std::getenv("ASAN_OPTIONS")) {
    ::setenv("ASAN_OPTIONS", (std::string(asan) + ":quarantine_size_mb=4").c_str(), 1);
  }
  Ferryd server;
  std::string big = RandomBytes(8u << 20, 3);
  WriteFile(server.data() / "big.bin", big);
  const std::string big_checksum = ChecksumOf(big);
  auto quiet = [&](int descriptors) {
    return Eventually([&] {
      return OpenDescriptors(server.pid()) == descriptors && server.TmpFiles() == 0;
    });
  };
  // One of each first, so lazily opened files (the cache's journal, ...) count as the baseline.
  for (int kind = 0; kind < kKinds; ++kind) Misbehave(server, kind, kind);
  std::this_thread::sleep_for(500ms);
  const int descriptors = OpenDescriptors(server.pid());
  ASSERT_TRUE(quiet(descriptors));
  const std::uint64_t rss_before = server.RssBytes();

  std::vector<std::thread> clients;
  std::atomic<int> next{0};
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      for (int i = next++; i < rounds; i = next++) Misbehave(server, i % kKinds, i);
    });
  }
  for (auto& t : clients) t.join();

  EXPECT_TRUE(quiet(descriptors)) << "descriptors " << OpenDescriptors(server.pid()) << " vs "
                                  << descriptors << " before; tmp files " << server.TmpFiles();
  EXPECT_EQ(server.PartialFiles(), 0u);  // plain PUTs keep nothing to resume
  EXPECT_FALSE(fs::exists(server.data() / "vanish"));
  const std::uint64_t rss_after = server.RssBytes();
  EXPECT_LT(rss_after, rss_before + (32u << 20))
      << "RSS grew from " << (rss_before >> 20) << " to " << (rss_after >> 20) << " MiB";
  // And a well-behaved client is served exactly.
  Socket s = Connect(server.port());
  EXPECT_EQ(GetChecksumOver(s, "big.bin"), big_checksum);
  std::printf("network faults: %d misbehaving clients of %d kinds; descriptors %d before and "
              "after; RSS %llu -> %llu MiB\n",
              rounds, kKinds, descriptors, static_cast<unsigned long long>(rss_before >> 20),
              static_cast<unsigned long long>(rss_after >> 20));
  RecordProperty("faults", rounds);
}

// A server restart in the middle of a download and an upload: the next run of the same ferry
// commands continues both (resume is ferry's default) and ends byte-exact.
TEST(NetworkFaults, TransfersCutByARestartFinishOnTheNextRun) {
  constexpr std::uint64_t kSize = std::uint64_t{1} << 30;
  Ferryd server;
  TempDir local;
  WriteRandomFile(server.data() / "down.bin", kSize, 11);
  WriteRandomFile(local / "up.bin", kSize, 12);
  const fs::path download = local / "down.bin";
  const fs::path part = local / "down.bin.ferry-part";
  // The upload first (it hashes the whole file before its first byte), then the download once
  // the server holds some of the upload; the kill comes once both have moved bytes.
  auto partial_bytes = [&] {
    std::uintmax_t bytes = 0;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(server.data() / ".ferry/partial", error)) {
      std::uintmax_t size = entry.file_size(error);
      if (!error) bytes += size;
    }
    return bytes;
  };
  pid_t put = Spawn({FerryPath(), "--server", server.address(), "put", (local / "up.bin").string(),
                     "up.bin"});
  bool under_way = Eventually([&] { return partial_bytes() > 0; });
  pid_t get = Spawn({FerryPath(), "--server", server.address(), "get", "down.bin", "-o",
                     download.string()});
  under_way = under_way && Eventually([&] {
                std::error_code missing;
                std::uintmax_t bytes = fs::file_size(part, missing);
                return !missing && bytes > 0;
              });
  server.Kill();  // a crash: the hardest restart
  for (pid_t client : {get, put}) ::waitpid(client, nullptr, 0);
  ASSERT_TRUE(under_way) << "the transfers never started (or ended before the kill)";
  server.Restart();
  RunResult get_again = RunProgram({FerryPath(), "--server", server.address(), "--json", "get",
                                    "down.bin", "-o", download.string()});
  ASSERT_EQ(get_again.exit_code, 0) << get_again.err;
  RunResult put_again = RunProgram({FerryPath(), "--server", server.address(), "--json", "put",
                                    (local / "up.bin").string(), "up.bin"});
  ASSERT_EQ(put_again.exit_code, 0) << put_again.err;
  EXPECT_GT(nlohmann::json::parse(get_again.out)["resumed_from"].get<std::uint64_t>(), 0u);
  EXPECT_GT(nlohmann::json::parse(put_again.out)["resumed_from"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(FileChecksum(download), FileChecksum(server.data() / "down.bin"));
  EXPECT_EQ(FileChecksum(server.data() / "up.bin"), FileChecksum(local / "up.bin"));
  EXPECT_FALSE(fs::exists(part));
  EXPECT_EQ(server.PartialFiles(), 0u);
}

// ---------------------------------------------------------------------------------------------
// 4. Load: 10,000 idle connections held open while 64 others transfer.

TEST(Load, TenThousandIdleConnectionsWhileSixtyFourOthersTransfer) {
  constexpr int kIdle = 10'000;
  constexpr int kBusy = 64;
  if (!RaiseDescriptorLimit(kIdle + kBusy + 1024)) {
    GTEST_SKIP() << "the descriptor limit here is below " << kIdle + kBusy + 1024;
  }
  Ferryd server({"--max-connections-per-ip", "0", "--idle-timeout", "600s"});
  constexpr int kFiles = 16;
  std::vector<std::string> checksums;
  for (int f = 0; f < kFiles; ++f) {
    std::string body = RandomBytes((256u << 10) + f * 4096, 50 + f);
    WriteFile(server.data() / ("load/f" + std::to_string(f)), body);
    checksums.push_back(ChecksumOf(body));
  }
  const std::uint64_t rss_idle_server = server.RssBytes();
  std::vector<Socket> idle;
  idle.reserve(kIdle);
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(Connect(server.port()));
    ASSERT_TRUE(idle.back().ok()) << "connection " << i << ": " << std::strerror(errno);
  }
  // Every one of them has been accepted: the server holds a descriptor for each.
  ASSERT_TRUE(Eventually([&] { return OpenDescriptors(server.pid()) > kIdle; }))
      << OpenDescriptors(server.pid());
  const std::uint64_t rss_held = server.RssBytes();

  std::atomic<int> verified{0}, failed{0};
  std::vector<std::thread> busy;
  for (int c = 0; c < kBusy; ++c) {
    busy.emplace_back([&, c] {
      Socket s = Connect(server.port());
      for (int round = 0; round < 8; ++round) {
        int f = (c + round) % kFiles;
        if (GetChecksumOver(s, "load/f" + std::to_string(f)) == checksums[f]) {
          verified.fetch_add(1);
        } else {
          failed.fetch_add(1);
        }
        std::string body = RandomBytes(64u << 10, 1000 + c * 10 + round);
        std::string name = "load/up/c" + std::to_string(c) + "-" + std::to_string(round);
        (PutOver(s, name, body).starts_with("OK ") ? verified : failed).fetch_add(1);
      }
    });
  }
  for (auto& t : busy) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(verified.load(), kBusy * 8 * 2);
  // The idle ones were kept, and each still gets an answer.
  int open = 0, answered = 0;
  for (const Socket& s : idle) open += !ClosedByServer(s);
  EXPECT_EQ(open, kIdle);
  for (int i = 0; i < kIdle; i += 100) {
    answered += SendAll(idle[i], "STAT load/f0\n") && ReadLineFrom(idle[i]).starts_with("OK ");
  }
  EXPECT_EQ(answered, kIdle / 100);
  const std::uint64_t per_connection = (rss_held - std::min(rss_held, rss_idle_server)) / kIdle;
  std::printf("load: %d idle connections held, %d transfers by %d clients; server RSS %llu MiB "
              "idle, %llu MiB holding them (%llu bytes each), peak %llu MiB, %d descriptors\n",
              kIdle, verified.load(), kBusy,
              static_cast<unsigned long long>(rss_idle_server >> 20),
              static_cast<unsigned long long>(rss_held >> 20),
              static_cast<unsigned long long>(per_connection),
              static_cast<unsigned long long>(server.PeakRssBytes() >> 20),
              OpenDescriptors(server.pid()));
  RecordProperty("rss_bytes_per_idle_connection", static_cast<int>(per_connection));
}

// ---------------------------------------------------------------------------------------------
// 5. Soak: random LIST/GET/PUT/DEL/STAT from 200 clients, every reply checked against a model.

std::chrono::seconds SoakLength() {
  if (const char* seconds = std::getenv("FERRY_SOAK_SECONDS")) {
    return std::chrono::seconds(std::max(1, std::atoi(seconds)));
  }
  return Torture() ? 1800s : 60s;
}

// What one client expects: each of its own names absent or holding a known version.
struct SoakClient {
  std::map<std::string, Version> files;
  std::uint64_t ops = 0;
  std::uint64_t bytes = 0;
  std::vector<std::string> errors;
};

// A memfd holding `bytes`, for Client::Put (which sends from a descriptor).
int MemoryFile(std::string_view bytes) {
  int fd = ::memfd_create("soak", MFD_CLOEXEC);
  if (fd >= 0 && ::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void RunSoakClient(const Ferryd& server, int id, Clock::time_point end,
                   const std::vector<std::pair<std::string, std::string>>& shared,
                   SoakClient& me) {
  auto fail = [&](std::string what) {
    if (me.errors.size() < 5) me.errors.push_back("client " + std::to_string(id) + ": " + what);
  };
  auto connected = client::Client::Connect({.server = server.address()});
  if (!connected.ok()) return fail(connected.status().ToString());
  client::Client& client = **connected;
  std::mt19937 r(static_cast<unsigned>(id));
  const std::string prefix = "soak/c" + std::to_string(id) + "/";
  auto get_checksum = [&](const std::string& name, Status* status) {
    Hasher hasher(ChecksumAlgo::kXxh128);
    auto head = client.Get(*ObjectName::FromDecoded(name), 0, std::nullopt,
                           [&](std::string_view bytes) {
                             hasher.Update(bytes);
                             me.bytes += bytes.size();
                             return Status::Ok();
                           });
    *status = head.ok() ? Status::Ok() : head.status();
    return hasher.Finish().ToString();
  };
  for (std::uint64_t n = 0; Clock::now() < end && n < 10'000'000; ++n) {
    std::string name = prefix + "f" + std::to_string(r() % 8);
    auto known = me.files.find(name);
    Status status;
    switch (r() % 10) {
      case 0:
      case 1: {  // GET a shared file: the cache's traffic
        const auto& [shared_name, checksum] = shared[r() % shared.size()];
        std::string got = get_checksum(shared_name, &status);
        if (!status.ok() || got != checksum) fail("GET " + shared_name + ": " + status.ToString());
        break;
      }
      case 2:
      case 3: {  // GET an own file
        std::string got = get_checksum(name, &status);
        if (known == me.files.end()) {
          if (status.code() != Code::kNotFound) fail("GET " + name + " should be 404: " + status.ToString());
        } else if (!status.ok() || got != known->second.checksum) {
          fail("GET " + name + ": " + status.ToString());
        }
        break;
      }
      case 4:
      case 5: {  // PUT
        Version version{(static_cast<std::uint64_t>(id) << 32) + n, r() % (96u << 10), ""};
        std::string body = RandomBytes(version.size, version.seed);
        version.checksum = ChecksumOf(body);
        int fd = MemoryFile(body);
        if (fd < 0) return fail("memfd_create failed");
        auto put = client.Put(*ObjectName::FromDecoded(name), fd, body.size(),
                              *Checksum::Parse(version.checksum));
        ::close(fd);
        if (!put.ok()) {
          fail("PUT " + name + ": " + put.status().ToString());
          break;
        }
        me.files[name] = version;
        me.bytes += body.size();
        break;
      }
      case 6: {  // DEL
        status = client.Remove(*ObjectName::FromDecoded(name));
        bool expected = known != me.files.end();
        if (expected ? !status.ok() : status.code() != Code::kNotFound) {
          fail("DEL " + name + ": " + status.ToString());
        }
        if (expected) me.files.erase(known);
        break;
      }
      case 7:
      case 8: {  // LIST the own folder: exactly the model's names and sizes
        auto listed = client.List(prefix);
        if (!listed.ok()) {
          fail("LIST " + prefix + ": " + listed.status().ToString());
          break;
        }
        std::map<std::string, std::uint64_t> got, want;
        for (const auto& entry : *listed) got[entry.name] = entry.size;
        for (const auto& [file, version] : me.files) want[file] = version.size;
        if (got != want) fail("LIST " + prefix + " disagrees with the model");
        break;
      }
      default: {  // STAT
        auto stat = client.Stat(*ObjectName::FromDecoded(name));
        if (known == me.files.end()) {
          if (stat.ok() || stat.status().code() != Code::kNotFound) fail("STAT " + name + " should be 404");
        } else if (!stat.ok() || stat->size != known->second.size ||
                   !stat->checksum || stat->checksum->ToString() != known->second.checksum) {
          fail("STAT " + name);
        }
        break;
      }
    }
    ++me.ops;
    if (!client.in_step()) return fail("the connection fell out of step");
  }
}

TEST(Soak, TwoHundredClientsOfRandomOperationsAgreeWithTheModel) {
  constexpr int kClients = 200;
  const auto length = SoakLength();
  // A cache far smaller than what is read: fills and evictions all along.
  Ferryd server({"--cache-max-bytes", "4M"});
  std::vector<std::pair<std::string, std::string>> shared;
  for (int f = 0; f < 32; ++f) {
    std::string body = RandomBytes((f + 1) * (8u << 10), 500 + f);
    std::string name = "shared/s" + std::to_string(f);
    WriteFile(server.data() / name, body);
    shared.emplace_back(name, ChecksumOf(body));
  }
  std::vector<SoakClient> clients(kClients);
  std::atomic<bool> done{false};
  std::uint64_t peak_descriptors = 0;
  std::thread sampler([&] {
    while (!done.load()) {
      peak_descriptors = std::max<std::uint64_t>(peak_descriptors, OpenDescriptors(server.pid()));
      std::this_thread::sleep_for(100ms);
    }
  });
  const auto end = Clock::now() + length;
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] { RunSoakClient(server, c, end, shared, clients[c]); });
  }
  for (auto& t : threads) t.join();
  done.store(true);
  sampler.join();

  std::uint64_t ops = 0, bytes = 0, errors = 0;
  for (const SoakClient& c : clients) {
    ops += c.ops;
    bytes += c.bytes;
    errors += c.errors.size();
    for (const std::string& error : c.errors) ADD_FAILURE() << error;
  }
  EXPECT_EQ(errors, 0u);
  if (errors > 0) {  // what the server said about it: its warnings and the connections it cut
    std::istringstream log(ReadFile(server.log()));
    int shown = 0;
    for (std::string line; std::getline(log, line) && shown < 40;) {
      if (line.find(" warn") != std::string::npos || line.find(" error") != std::string::npos ||
          line.find("closed: ") != std::string::npos || line.find("cut") != std::string::npos) {
        std::printf("ferryd: %s\n", line.c_str());
        ++shown;
      }
    }
  }
  EXPECT_GT(ops, static_cast<std::uint64_t>(kClients));
  EXPECT_EQ(server.TmpFiles(), 0u);
  std::printf("soak: %d clients for %llds: %llu operations, %llu MiB moved, %llu unexpected "
              "replies; server peak RSS %llu MiB, peak %llu descriptors\n",
              kClients, static_cast<long long>(length.count()),
              static_cast<unsigned long long>(ops), static_cast<unsigned long long>(bytes >> 20),
              static_cast<unsigned long long>(errors),
              static_cast<unsigned long long>(server.PeakRssBytes() >> 20),
              static_cast<unsigned long long>(peak_descriptors));
  RecordProperty("operations", static_cast<int>(ops));
  RecordProperty("unexpected", static_cast<int>(errors));
}

// ---------------------------------------------------------------------------------------------
// 6. Graceful stop: the first SIGTERM drains (tested in lifecycle_test), a second one cuts.

TEST(GracefulStop, ASecondSigtermCutsTheDrainAtOnce) {
  Ferryd server({"--drain-timeout-ms", "60000"});
  WriteFile(server.data() / "big.bin", RandomBytes(64u << 20, 9));
  // A download that cannot finish: its reader takes a little and then stops reading.
  Socket reader = Connect(server.port(), nullptr, 16 << 10);
  ASSERT_TRUE(SendAll(reader, "GET big.bin\n"));
  ASSERT_TRUE(ReadLineFrom(reader).starts_with("OK "));
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  std::this_thread::sleep_for(1s);
  ASSERT_EQ(::waitpid(server.pid(), nullptr, WNOHANG), 0) << "the first SIGTERM should drain";
  auto second = Clock::now();
  int status = server.Stop(10s);  // the second SIGTERM
  ASSERT_NE(status, -1) << "still running 10 s after the second SIGTERM";
  EXPECT_LT(Clock::now() - second, 5s);
  EXPECT_TRUE(WIFEXITED(status)) << status;
}

}  // namespace
}  // namespace ferry::testing
