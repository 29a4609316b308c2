// ferryd with an S3 bucket as its data store, against a real S3 server: Ceph's RADOS Gateway
// from ../shared/s3 (Debian packages), started by each test process on 127.0.0.1 and stopped at
// its end. Skipped, with the reason, where those packages are not installed.
//
// What is checked: round trips of 0 B to 1 GiB (single and multipart uploads), an upload cut
// by its client (nothing visible, the multipart upload aborted), ranged GETs that move only a
// window of the object, listings beyond S3's 1,000-key pages, another writer's change seen
// after the revalidation window, bad credentials and a store that stops answering (a clear
// 503, no hang, recovery), and three nodes behind HAProxy (every node sees every PUT; a dead
// node's files are served by the others).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/client.h"
#include "tests/ferryd_fixture.h"
#include "tests/temp_dir.h"

namespace ferry::testing {
namespace {

constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string S3ScriptsDir() {
  if (const char* dir = std::getenv("FERRY_S3_SCRIPTS")) return dir;
  return FERRY_SOURCE_DIR "/../shared/s3";
}

// The S3 server of this test process.
struct S3Server {
  std::string endpoint, access_key, secret_key, region, state_dir;
  std::string skip_reason;  // non-empty: no S3 server here

  static S3Server& Get() {
    started = true;
    static S3Server server = Start();
    return server;
  }
  static inline bool started = false;

  // curl speaking SigV4 straight to the store: the "other writer" and the inspector.
  RunResult Curl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "60", "--aws-sigv4",
                                     "aws:amz:" + region + ":s3", "--user",
                                     access_key + ":" + secret_key};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, std::chrono::seconds(90));
  }
  std::string Url(std::string_view path) const { return endpoint + "/" + std::string(path); }

  void MakeBucket(const std::string& bucket) const {
    RunResult made = Curl({"-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H",
                           "x-amz-content-sha256: " + std::string(kEmptySha256), Url(bucket)});
    ASSERT_EQ(made.out, "200") << made.err;
  }

  pid_t RadosgwPid() const {
    pid_t pid = 0;
    std::ifstream(state_dir + "/pids/client.rgw.a.pid") >> pid;
    return pid;
  }

 private:
  static S3Server Start() {
    S3Server server;
    std::string start = S3ScriptsDir() + "/start-s3.sh";
    if (!std::filesystem::exists(start)) {
      server.skip_reason = "no S3 scripts at " + start + " (set FERRY_S3_SCRIPTS)";
      return server;
    }
    if (RunProgram({"sh", "-c", "command -v radosgw && command -v ceph-mon"}).exit_code != 0) {
      server.skip_reason = "radosgw is not installed (scripts/install-deps.sh --s3 installs it)";
      return server;
    }
    RunResult started = RunProgram({"bash", start}, std::chrono::seconds(240));
    if (started.exit_code != 0) {
      server.skip_reason = "the S3 server did not start: " + started.err.substr(0, 2000);
      return server;
    }
    std::map<std::string, std::string> values;
    std::smatch match;
    std::regex line(R"(export (\w+)=(\S*))");
    for (auto it = std::sregex_iterator(started.out.begin(), started.out.end(), line);
         it != std::sregex_iterator(); ++it) {
      values[(*it)[1]] = (*it)[2];
    }
    server.endpoint = values["S3_ENDPOINT"];
    server.access_key = values["S3_ACCESS_KEY"];
    server.secret_key = values["S3_SECRET_KEY"];
    server.region = values["S3_REGION"];
    server.state_dir = values["S3_STATE_DIR"];
    ::setenv("AWS_ACCESS_KEY_ID", server.access_key.c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", server.secret_key.c_str(), 1);
    return server;
  }
};

// Stops the S3 server after the last test (if one was started). Not atexit: the server's
// strings are gone by then.
class StopS3AtEnd : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!S3Server::started) return;
    const S3Server& s = S3Server::Get();
    if (!s.state_dir.empty()) {
      RunProgram({"bash", S3ScriptsDir() + "/stop-s3.sh", s.state_dir}, std::chrono::seconds(60));
    }
  }
};
[[maybe_unused]] ::testing::Environment* const kStopS3 =
    ::testing::AddGlobalTestEnvironment(new StopS3AtEnd);

class S3Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!s3().skip_reason.empty()) GTEST_SKIP() << "S3 tests skipped: " << s3().skip_reason;
    bucket_ = "ferry-" + std::to_string(::getpid()) + "-" + std::to_string(++buckets_);
    s3().MakeBucket(bucket_);
  }
  const S3Server& s3() const { return S3Server::Get(); }

  // ferryd on the bucket (under `prefix`), plus `extra` flags.
  std::unique_ptr<Ferryd> Start(std::vector<std::string> extra = {}, std::string prefix = "p") {
    std::vector<std::string> args = {"--store", "s3://" + bucket_ + "/" + prefix, "--s3-endpoint",
                                     s3().endpoint, "--s3-region", s3().region};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<Ferryd>(args);
  }

  static RunResult Ferry(const Ferryd& server, std::vector<std::string> args,
                         std::chrono::seconds timeout = std::chrono::seconds(120)) {
    std::vector<std::string> argv = {FerryPath(), "--server", server.address(), "--quiet"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, timeout);
  }

  static std::map<std::string, std::uint64_t> Stats(const Ferryd& server) {
    std::map<std::string, std::uint64_t> stats;
    auto client = client::Client::Connect({.server = server.address()});
    if (!client.ok()) return stats;
    auto values = (*client)->Stats();
    if (!values.ok()) return stats;
    for (auto& v : *values) {
      if (v.name.starts_with("store_")) stats[v.name] = std::stoull(v.value);
    }
    return stats;
  }

  // Multipart uploads in progress under the bucket (ListMultipartUploads).
  int PendingUploads() const {
    RunResult listed = s3().Curl({"-H", "x-amz-content-sha256: " + std::string(kEmptySha256),
                                  s3().Url(bucket_ + "?uploads=")});
    EXPECT_NE(listed.out.find("ListMultipartUploadsResult"), std::string::npos) << listed.out;
    int count = 0;
    for (std::size_t at = 0; (at = listed.out.find("<UploadId>", at)) != std::string::npos; ++at) ++count;
    return count;
  }

  std::string bucket_;
  TempDir dir_;
  static inline int buckets_ = 0;
};

TEST_F(S3Test, RoundTripsFromZeroBytesToOneGibibyte) {
  // 5 MiB parts, 2 in flight: the 1 GiB file goes up in 205 parts with bounded memory.
  auto server = Start({"--s3-part-size", "5M", "--s3-parallel-parts", "2", "--cache-max-bytes", "64M"});
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  constexpr std::uint64_t kLargest = 64 << 20;  // sanitized builds: the same paths, less waiting
#else
  constexpr std::uint64_t kLargest = std::uint64_t{1} << 30;
#endif
  const std::vector<std::uint64_t> sizes = {0, 1, 4096, (5 << 20) - 1, 5 << 20, (5 << 20) + 1,
                                            23 << 20, kLargest};
  for (std::uint64_t size : sizes) {
    SCOPED_TRACE("size " + std::to_string(size));
    std::filesystem::path local = dir_.path() / ("in" + std::to_string(size));
    WriteRandomFile(local, size, size + 7);
    std::string name = "sizes/f" + std::to_string(size);
    RunResult put = Ferry(*server, {"put", local.string(), name}, std::chrono::seconds(300));
    ASSERT_EQ(put.exit_code, 0) << put.err;
    std::filesystem::path back = dir_.path() / ("out" + std::to_string(size));
    RunResult get = Ferry(*server, {"get", name, back.string()}, std::chrono::seconds(300));
    ASSERT_EQ(get.exit_code, 0) << get.err;
    EXPECT_EQ(FileChecksum(back), FileChecksum(local));
    // The checksum rides with the object, so STAT needs no read of its bytes.
    RunResult head = s3().Curl({"-I", "-H", "x-amz-content-sha256: " + std::string(kEmptySha256),
                                s3().Url(bucket_ + "/p/" + name)});
    EXPECT_NE(head.out.find("x-amz-meta-ferry-checksum: " + FileChecksum(local)), std::string::npos)
        << head.out;
    std::filesystem::remove(local);
    std::filesystem::remove(back);
  }
  EXPECT_EQ(PendingUploads(), 0);
  RunResult listed = Ferry(*server, {"--json", "ls", "sizes/"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(nlohmann::json::parse(listed.out).size(), sizes.size());
}

TEST_F(S3Test, AnUploadCutByItsClientLeavesNothingVisible) {
  auto server = Start({"--s3-part-size", "5M"});
  std::string old_version = RandomBytes(1000, 1);
  WriteFile(dir_.path() / "old", old_version);
  ASSERT_EQ(Ferry(*server, {"put", (dir_.path() / "old").string(), "cut.bin"}).exit_code, 0);
  {
    RawConnection raw(server->port());
    raw.Send("PUT cut.bin 31457280\n");
    std::string chunk = RandomBytes(1 << 20, 2);
    for (int i = 0; i < 20; ++i) raw.Send(chunk);  // 20 of 30 MiB: several parts are up
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }  // cut
  // The old version stays whole; the multipart upload is aborted.
  EXPECT_TRUE(Eventually([&] { return PendingUploads() == 0; }));
  std::filesystem::path back = dir_.path() / "back";
  RunResult get = Ferry(*server, {"get", "cut.bin", back.string()});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(ReadFile(back), old_version);
}

TEST_F(S3Test, RangedGetsMoveAWindowNotTheObject) {
  auto server = Start({"--cache", ""});  // no cache: every byte comes from the store
  std::filesystem::path local = dir_.path() / "big";
  WriteRandomFile(local, 64 << 20, 3);
  ASSERT_EQ(Ferry(*server, {"put", local.string(), "big.bin"}).exit_code, 0);
  std::uint64_t before = Stats(*server)["store_get_bytes_received"];
  RunResult range = RunProgram({"curl", "-sS", "-r", "40000000-40001023", server->url("/files/big.bin")});
  ASSERT_EQ(range.exit_code, 0) << range.err;
  std::string expected = ReadFile(local).substr(40000000, 1024);
  EXPECT_EQ(range.out, expected);
  std::uint64_t moved = Stats(*server)["store_get_bytes_received"] - before;
  EXPECT_GE(moved, 1024u);
  EXPECT_LE(moved, 1u << 20) << "a 1 KiB range must not download the 64 MiB object";
}

TEST_F(S3Test, ListsBeyondOnePageOfAThousandKeys) {
  auto server = Start();
  std::filesystem::path folder = dir_.path() / "many";
  std::filesystem::create_directories(folder);
  constexpr int kFiles = 1'050;
  for (int i = 0; i < kFiles; ++i) WriteFile(folder / ("f" + std::to_string(i)), std::to_string(i));
  RunResult put = Ferry(*server, {"put", "-r", "-P", "8", folder.string(), "lots"},
                        std::chrono::seconds(240));
  ASSERT_EQ(put.exit_code, 0) << put.err;
  RunResult listed = Ferry(*server, {"--json", "ls", "lots/"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(nlohmann::json::parse(listed.out).size(), static_cast<std::size_t>(kFiles));
  EXPECT_GE(Stats(*server)["store_list_requests"], 2u);
}

TEST_F(S3Test, AnotherWritersChangeIsServedAfterTheRevalidationWindow) {
  auto server = Start({"--revalidate-after", "2s"});
  WriteFile(dir_.path() / "v1", "version one");
  ASSERT_EQ(Ferry(*server, {"put", (dir_.path() / "v1").string(), "shared.txt"}).exit_code, 0);
  std::filesystem::path back = dir_.path() / "back";
  ASSERT_EQ(Ferry(*server, {"get", "shared.txt", back.string()}).exit_code, 0);  // now cached
  // Another writer replaces the object behind ferryd (no ferry checksum on it).
  WriteFile(dir_.path() / "v2", "version two, longer");
  RunResult put = s3().Curl({"-o", "/dev/null", "-w", "%{http_code}", "-H",
                             "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T",
                             (dir_.path() / "v2").string(), s3().Url(bucket_ + "/p/shared.txt")});
  ASSERT_EQ(put.out, "200") << put.err;
  std::uint64_t heads = Stats(*server)["store_head_requests"];
  std::this_thread::sleep_for(std::chrono::milliseconds(2'200));
  std::filesystem::remove(back);
  RunResult get = Ferry(*server, {"get", "shared.txt", back.string()});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(ReadFile(back), "version two, longer");
  EXPECT_GT(Stats(*server)["store_head_requests"], heads);
  // Inside the window nothing more is asked of the store.
  heads = Stats(*server)["store_head_requests"];
  RunResult stat = Ferry(*server, {"stat", "shared.txt"});
  ASSERT_EQ(stat.exit_code, 0) << stat.err;
  EXPECT_EQ(Stats(*server)["store_head_requests"], heads);
}

TEST_F(S3Test, BadCredentialsGetAClearErrorNotAHang) {
  TempDir config;
  WriteFile(config.path() / "credentials", "[default]\naws_access_key_id = NOSUCHKEY\n"
                                           "aws_secret_access_key = wrong\n");
  std::string saved_key = std::getenv("AWS_ACCESS_KEY_ID"), saved_secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  auto server = Start({"--s3-credentials-file", (config.path() / "credentials").string()});
  ::setenv("AWS_ACCESS_KEY_ID", saved_key.c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", saved_secret.c_str(), 1);
  auto start = std::chrono::steady_clock::now();
  RunResult stat = Ferry(*server, {"stat", "anything"}, std::chrono::seconds(30));
  EXPECT_EQ(stat.exit_code, 1);
  EXPECT_NE(stat.err.find("503"), std::string::npos) << stat.err;
  EXPECT_NE(stat.err.find("refused"), std::string::npos) << stat.err;
  RunResult put = RunProgram({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T",
                              "/etc/hostname", server->url("/files/x")});
  EXPECT_EQ(put.out, "503");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  std::string log = ReadFile(server->log());
  EXPECT_NE(log.find("InvalidAccessKeyId"), std::string::npos) << "the reason is logged";

  // A bucket that is not there is the store's fault too, not a missing file (a HEAD's 404
  // says neither).
  auto lost = std::make_unique<Ferryd>(std::vector<std::string>{
      "--store", "s3://no-such-bucket-" + bucket_, "--s3-endpoint", s3().endpoint});
  RunResult missing = Ferry(*lost, {"stat", "anything"}, std::chrono::seconds(30));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("503"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("NoSuchBucket"), std::string::npos) << missing.err;
}

TEST_F(S3Test, AStoreThatStopsAnsweringFailsClearlyAndRecovers) {
  auto server = Start({"--cache", "", "--s3-timeout", "2s"});
  std::filesystem::path local = dir_.path() / "f";
  WriteRandomFile(local, 20 << 20, 4);
  ASSERT_EQ(Ferry(*server, {"put", local.string(), "f.bin"}).exit_code, 0);
  pid_t rgw = s3().RadosgwPid();
  ASSERT_GT(rgw, 0);
  // A slow download (2 MB/s) is under way when the store freezes.
  std::filesystem::path back = dir_.path() / "back";
  RunResult during;
  std::thread download([&] {
    during = RunProgram({"curl", "-sS", "-f", "--limit-rate", "2M", "-o", back.string(),
                         server->url("/files/f.bin")}, std::chrono::seconds(90));
  });
  ASSERT_TRUE(Eventually([&] {
    std::error_code error;
    std::uintmax_t size = std::filesystem::file_size(back, error);
    return !error && size > (1u << 20);  // (on an error, file_size is -1)
  }));
  ASSERT_EQ(::kill(rgw, SIGSTOP), 0);
  auto start = std::chrono::steady_clock::now();
  download.join();
  auto took = std::chrono::steady_clock::now() - start;
  ::kill(rgw, SIGCONT);
  EXPECT_NE(during.exit_code, 0) << "cut, not hung and not complete: " << during.err;
  EXPECT_LT(took, std::chrono::seconds(60));
  EXPECT_LT(std::filesystem::file_size(back), std::uint64_t{20} << 20);
  // The client resumes what it has once the store answers again.
  RunResult resumed = RunProgram({"curl", "-sS", "-f", "-C", "-", "-o", back.string(),
                                  server->url("/files/f.bin")});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(FileChecksum(back), FileChecksum(local));
  // A request that arrives while the store is gone says why.
  ASSERT_EQ(::kill(rgw, SIGSTOP), 0);
  RunResult stat = Ferry(*server, {"stat", "g.bin"}, std::chrono::seconds(90));
  ::kill(rgw, SIGCONT);
  EXPECT_NE(stat.err.find("503"), std::string::npos) << stat.err;
  // And once it answers again, so does ferryd.
  std::filesystem::remove(back);
  RunResult after = Ferry(*server, {"get", "f.bin", back.string()});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(FileChecksum(back), FileChecksum(local));
  EXPECT_GT(Stats(*server)["store_head_retries"] + Stats(*server)["store_get_retries"], 0u);
}

// Three nodes on one bucket behind HAProxy (deploy/cluster/haproxy.cfg.in), hashing names.
class S3ClusterTest : public S3Test {
 protected:
  void StartCluster() {
    for (int i = 0; i < 3; ++i) {
      nodes_.push_back(Start({"--revalidate-after", "0", "--cache-max-bytes", "64M"}, "cluster"));
    }
    std::string servers;
    for (int i = 0; i < 3; ++i) {
      servers += "    server node" + std::to_string(i + 1) + " 127.0.0.1:" +
                 std::to_string(nodes_[i]->http_port()) + " check\n";
    }
    frontend_port_ = FreePort();
    std::string config = ReadFile(FERRY_SOURCE_DIR "/deploy/cluster/haproxy.cfg.in");
    auto replace = [&](std::string_view key, const std::string& value) {
      for (std::size_t at; (at = config.find(key)) != std::string::npos;) config.replace(at, key.size(), value);
    };
    replace("@FRONTEND@", "127.0.0.1:" + std::to_string(frontend_port_));
    replace("@STATS@", "127.0.0.1:" + std::to_string(FreePort()));
    replace("@SERVERS@\n", servers);
    replace("@SERVERS@", servers);
    replace("@BALANCE@", "uri path-only\n    hash-type consistent");  // as scripts/cluster-up.sh
    WriteFile(dir_.path() / "haproxy.cfg", config);
    haproxy_ = Spawn({"/usr/bin/setpriv", "--pdeathsig", "KILL", "--", "haproxy", "-db", "-f",
                      (dir_.path() / "haproxy.cfg").string()});
    ASSERT_TRUE(Eventually([&] {
      return RunProgram({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", Frontend("/healthz")}).out == "200";
    })) << "haproxy did not come up";
  }
  void TearDown() override {
    if (haproxy_ > 0) {
      ::kill(haproxy_, SIGTERM);
      ::waitpid(haproxy_, nullptr, 0);
    }
  }
  std::string Frontend(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(frontend_port_) + std::string(path);
  }
  std::vector<std::unique_ptr<Ferryd>> nodes_;
  int frontend_port_ = 0;
  pid_t haproxy_ = -1;
};

TEST_F(S3ClusterTest, EveryNodeSeesEveryPutAndADeadNodesFilesAreStillServed) {
  StartCluster();
  // A PUT through any node is what every node serves once its OK is back, even a node that
  // had the old version in its cache.
  for (int round = 0; round < 3; ++round) {
    std::string content = "round " + std::to_string(round);
    WriteFile(dir_.path() / "v", content);
    Ferryd& writer = *nodes_[round];
    ASSERT_EQ(Ferry(writer, {"put", (dir_.path() / "v").string(), "shared.txt"}).exit_code, 0);
    for (auto& node : nodes_) {
      std::filesystem::path back = dir_.path() / "back";
      std::filesystem::remove(back);
      RunResult get = Ferry(*node, {"get", "shared.txt", back.string()});
      ASSERT_EQ(get.exit_code, 0) << get.err;
      EXPECT_EQ(ReadFile(back), content) << "node on port " << node->port() << ", round " << round;
    }
  }
  // Through HAProxy: 30 files in, each hashed to one node.
  for (int i = 0; i < 30; ++i) {
    WriteFile(dir_.path() / "f", "file " + std::to_string(i));
    RunResult put = RunProgram({"curl", "-sS", "-f", "-T", (dir_.path() / "f").string(),
                                Frontend("/files/h/f" + std::to_string(i))});
    ASSERT_EQ(put.exit_code, 0) << put.err;
  }
  auto get_all = [&] {
    int good = 0;
    for (int i = 0; i < 30; ++i) {
      RunResult got = RunProgram({"curl", "-sS", "-f", Frontend("/files/h/f" + std::to_string(i))});
      if (got.exit_code == 0 && got.out == "file " + std::to_string(i)) ++good;
    }
    return good;
  };
  EXPECT_EQ(get_all(), 30);
  // Each node holds some of the files in its cache: the caches add up.
  int nodes_with_hits = 0;
  for (int round = 0; round < 2; ++round) get_all();
  for (auto& node : nodes_) {
    auto client = client::Client::Connect({.server = node->address()});
    ASSERT_TRUE(client.ok());
    auto values = (*client)->Stats();
    ASSERT_TRUE(values.ok()) << values.status().ToString();
    for (auto& v : *values) {
      if (v.name == "files_cached" && v.value != "0") ++nodes_with_hits;
    }
  }
  EXPECT_GE(nodes_with_hits, 2) << "consistent hashing spreads the names over the nodes";
  // A node dies: its names move to the others, which fetch them from the store.
  nodes_[1]->Kill();
  EXPECT_EQ(get_all(), 30);
}

}  // namespace
}  // namespace ferry::testing
