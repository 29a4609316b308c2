// Running ferryd as a service (docs/operations.md): the access log, log files reopened for
// logrotate, SIGHUP reloads under load, and systemd's readiness protocol.
#include <signal.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <future>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ferryd_fixture.h"
#include "temp_dir.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The access lines (JSON) of a log.
std::vector<nlohmann::json> AccessLines(const fs::path& log) {
  std::vector<nlohmann::json> lines;
  for (const std::string& line : Lines(ReadFile(log))) {
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << line;
    if (parsed.is_object() && parsed.value("type", "") == "access") lines.push_back(parsed);
  }
  return lines;
}

int Curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult run = RunProgram(argv, 60s);
  return run.exit_code == 0 ? std::atoi(run.out.c_str()) : -1;
}

TEST(AccessLog, JsonLinesCarryEveryFieldAndEscapeControlBytes) {
  TempDir dir;
  fs::path access = dir / "access.log";
  Ferryd server({"--log-format", "json", "--access-log", access.string()});
  fs::path file = dir / "a.bin";
  WriteRandomFile(file, 5000, 1);
  ASSERT_EQ(Curl({"-T", file.string(), server.url("/files/docs/a.bin")}), 201);
  ASSERT_EQ(Curl({server.url("/files/docs/a.bin")}), 200);
  ASSERT_EQ(Curl({server.url("/files/docs/a.bin")}), 200);
  ASSERT_EQ(Curl({server.url("/files/no-such")}), 404);
  // A newline and ESC in a name: refused (names hold no control bytes), logged escaped.
  ASSERT_EQ(Curl({server.url("/files/evil%0Aline%1B%5B2J.txt")}), 400);
  RunResult got = RunProgram({FerryPath(), "--server", server.address(), "get", "docs/a.bin",
                              (dir / "b.bin").string()});
  ASSERT_EQ(got.exit_code, 0) << got.err;

  std::vector<nlohmann::json> lines;
  ASSERT_TRUE(Eventually([&] { return (lines = AccessLines(access)).size() >= 7; }));
  for (const std::string& raw : Lines(ReadFile(access))) {
    for (char c : raw) ASSERT_FALSE(static_cast<unsigned char>(c) < 0x20) << raw;
  }
  const auto& put = lines[0];
  EXPECT_EQ(put["door"], "http");
  EXPECT_EQ(put["command"], "PUT");
  EXPECT_EQ(put["name"], "docs/a.bin");
  EXPECT_EQ(put["status"], 201);
  EXPECT_GE(put["bytes_received"].get<std::uint64_t>(), 5000u);
  EXPECT_EQ(put["cache"], "-");
  EXPECT_TRUE(put["client"].get<std::string>().starts_with("127.0.0.1:")) << put;
  EXPECT_TRUE(put["time"].get<std::string>().ends_with("Z")) << put;
  EXPECT_GE(put["duration_ms"].get<double>(), 0.0);
  const auto& first_get = lines[1];
  EXPECT_EQ(first_get["command"], "GET");
  EXPECT_EQ(first_get["status"], 200);
  EXPECT_GT(first_get["bytes_sent"].get<std::uint64_t>(), 5000u);  // body and head
  EXPECT_EQ(first_get["cache"], "miss");
  EXPECT_NE(lines[2]["cache"], "miss");  // the copy made by the first: hit (disk) or memory
  EXPECT_EQ(lines[3]["status"], 404);
  EXPECT_EQ(lines[4]["status"], 400);
  EXPECT_EQ(lines[4]["name"], "/files/evil\nline\x1b[2J.txt");  // escaped in the file
  EXPECT_NE(ReadFile(access).find("evil\\nline\\u001b[2J.txt"), std::string::npos);
  // The native door: the CLI's GET.
  auto native = std::find_if(lines.begin(), lines.end(), [](const nlohmann::json& line) {
    return line["door"] == "native" && line["command"] == "GET";
  });
  ASSERT_NE(native, lines.end());
  const auto& native_get = *native;
  EXPECT_EQ(native_get["door"], "native");
  EXPECT_EQ(native_get["command"], "GET");
  EXPECT_EQ(native_get["name"], "docs/a.bin");
  EXPECT_EQ(native_get["status"], 200);
  EXPECT_GE(native_get["bytes_sent"].get<std::uint64_t>(), 5000u);
  // The server log stays apart from the access log, in JSON too.
  for (const std::string& line : Lines(ReadFile(server.log()))) {
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << line;
    EXPECT_FALSE(parsed.contains("type")) << line;
    EXPECT_TRUE(parsed.contains("message") && parsed.contains("level")) << line;
  }
}

TEST(AccessLog, Sigusr1ReopensFilesLogrotateRenamed) {
  TempDir dir;
  fs::path log = dir / "ferryd.log";
  fs::path access = dir / "access.log";
  Ferryd server({"--log-file", log.string(), "--access-log", access.string()});
  ASSERT_EQ(Curl({server.url("/healthz")}), 200);
  ASSERT_TRUE(Eventually([&] { return ReadFile(access).find("/healthz") != std::string::npos; }));
  // What logrotate does: rename, then signal (its postrotate).
  fs::rename(access, dir / "access.log.1");
  fs::rename(log, dir / "ferryd.log.1");
  ASSERT_EQ(::kill(server.pid(), SIGUSR1), 0);
  ASSERT_TRUE(Eventually([&] { return fs::exists(log) && fs::exists(access); }));
  ASSERT_EQ(Curl({server.url("/files/after-rotate")}), 404);
  ASSERT_TRUE(Eventually([&] { return ReadFile(access).find("after-rotate") != std::string::npos; }));
  EXPECT_EQ(ReadFile(dir / "access.log.1").find("after-rotate"), std::string::npos);
  EXPECT_NE(ReadFile(dir / "access.log.1").find("/healthz"), std::string::npos);
  EXPECT_NE(ReadFile(log).find("log files reopened"), std::string::npos) << ReadFile(log);
  EXPECT_NE(ReadFile(dir / "ferryd.log.1").find("listening on"), std::string::npos);
}

// The shipped logrotate snippet (deploy/logrotate/ferry), run by the real logrotate on a copy
// pointed at a test folder: its user lines become this process's, its postrotate signals this
// ferryd instead of the systemd unit.
TEST(AccessLog, TheShippedLogrotateSnippetRotatesAndFerrydReopens) {
  if (RunProgram({"sh", "-c", "command -v logrotate"}, 10s).exit_code != 0) {
    GTEST_SKIP() << "logrotate is not installed (scripts/install-deps.sh installs it)";
  }
  TempDir dir;
  fs::path access = dir / "access.log";
  Ferryd server({"--access-log", access.string()});
  ASSERT_EQ(Curl({server.url("/files/before-rotate")}), 404);
  ASSERT_TRUE(Eventually([&] { return ReadFile(access).find("before-rotate") != std::string::npos; }));

  std::string snippet = ReadFile(FERRY_SOURCE_DIR "/deploy/logrotate/ferry");
  auto replace = [&](std::string_view from, const std::string& to) {
    std::size_t at = snippet.find(from);
    ASSERT_NE(at, std::string::npos) << "the snippet no longer has '" << from << "'";
    snippet.replace(at, from.size(), to);
  };
  replace("/var/log/ferry/*.log", (dir / "*.log").string());
  replace("su ferry ferry", "su root root");
  replace("create 0640 ferry ferry", "create 0640");
  replace("systemctl kill --kill-whom=main --signal=USR1 ferryd.service",
          "kill -USR1 " + std::to_string(server.pid()));
  fs::path config = dir / "logrotate.conf";
  WriteFile(config, snippet);
  ::chmod(dir.path().c_str(), 0755);  // logrotate refuses a folder others may write
  RunResult rotated =
      RunProgram({"logrotate", "--force", "--state", (dir / "state").string(), config.string()}, 60s);
  ASSERT_EQ(rotated.exit_code, 0) << rotated.out << rotated.err;
  ASSERT_TRUE(fs::exists(dir / "access.log.1")) << rotated.err;  // delaycompress: not yet .gz
  EXPECT_NE(ReadFile(dir / "access.log.1").find("before-rotate"), std::string::npos);
  ASSERT_EQ(Curl({server.url("/files/after-rotate")}), 404);
  ASSERT_TRUE(Eventually([&] { return ReadFile(access).find("after-rotate") != std::string::npos; }));
  EXPECT_EQ(ReadFile(dir / "access.log.1").find("after-rotate"), std::string::npos);
}

// The reload tests: ferryd with a --config file the test rewrites between SIGHUPs.
class Reload : public ::testing::Test {
 protected:
  TempDir dir_;
  fs::path config_ = dir_ / "ferryd.toml";

  void Reconfigure(Ferryd& server, const std::string& text, const std::string& expect_in_log) {
    std::size_t before = ReadFile(server.log()).size();
    WriteFile(config_, text);
    ASSERT_EQ(::kill(server.pid(), SIGHUP), 0);
    ASSERT_TRUE(Eventually([&] {
      return ReadFile(server.log()).substr(before).find(expect_in_log) != std::string::npos;
    })) << "no '" << expect_in_log << "' after a reload:\n" << ReadFile(server.log()).substr(before);
  }
};

TEST_F(Reload, UnderLoadDropsNoTransfer) {
  WriteFile(config_, "log-level = \"info\"\n");
  Ferryd server({"--config", config_.string()});
  fs::path big = dir_ / "big.bin";
  WriteRandomFile(big, 6 << 20, 7);
  ASSERT_EQ(Curl({"-T", big.string(), server.url("/files/big.bin")}), 201);
  std::string expected = FileChecksum(big);

  // 32 transfers at 3 MB/s each (about 2 s): 16 downloads, 16 uploads, while ferryd reloads.
  std::vector<std::future<int>> transfers;
  for (int i = 0; i < 32; ++i) {
    fs::path local = dir_ / ("t" + std::to_string(i));
    std::vector<std::string> args{"--limit-rate", "3M", "--fail"};
    if (i % 2 == 0) {
      args.insert(args.end(), {"-o", local.string(), server.url("/files/big.bin")});
    } else {
      args.insert(args.end(), {"-T", big.string(), server.url("/files/up/" + std::to_string(i))});
    }
    transfers.push_back(std::async(std::launch::async, [args] {
      std::vector<std::string> argv{"curl", "-s", "-S"};
      argv.insert(argv.end(), args.begin(), args.end());
      return RunProgram(argv, 90s).exit_code;
    }));
  }
  std::this_thread::sleep_for(300ms);
  const char* configs[] = {
      "log-level = \"debug\"\nmax-connections = 5000\nidle-timeout = \"2m\"\ncache-max-bytes = \"256M\"\n",
      "log-level = \"info\"\nmax-connections-per-ip = 1000\nmin-rate = \"2K\"\ncache-max-bytes = \"512M\"\n",
      "log-level = \"info\"\nheader-timeout = \"30s\"\nmax-upload = \"1G\"\n",
      "log-level = \"warn\"\n",
      "log-level = \"info\"\n",
  };
  for (const char* text : configs) {
    Reconfigure(server, text, "reloaded");
    std::this_thread::sleep_for(200ms);
  }
  for (std::size_t i = 0; i < transfers.size(); ++i) {
    ASSERT_EQ(transfers[i].wait_for(120s), std::future_status::ready);
    EXPECT_EQ(transfers[i].get(), 0) << "transfer " << i << " failed";
  }
  for (int i = 0; i < 32; ++i) {
    fs::path copy = i % 2 == 0 ? dir_ / ("t" + std::to_string(i))
                               : server.data() / "up" / std::to_string(i);
    EXPECT_EQ(FileChecksum(copy), expected) << copy;
  }
  EXPECT_EQ(ReadFile(server.log()).find("refused"), std::string::npos);
}

TEST_F(Reload, AppliesLiveOptionsRefusesBadFilesAndNamesRestartOnlyOnes) {
  WriteFile(config_, "");
  Ferryd server({"--config", config_.string()});
  fs::path file = dir_ / "f";
  WriteFile(file, "hello");
  ASSERT_EQ(Curl({"-T", file.string(), server.url("/files/f")}), 201);

  Reconfigure(server, "read-only = true\n", "applied read-only");
  EXPECT_EQ(Curl({"-T", file.string(), server.url("/files/g")}), 403);
  Reconfigure(server, "read-only = true\nmax-upload = \"3\"\n", "applied max-upload");

  // A file that does not parse or validate changes nothing.
  Reconfigure(server, "read-only = false\nmax-upload = \"lots\"\n", "reload refused");
  EXPECT_EQ(Curl({"-T", file.string(), server.url("/files/g")}), 403);
  Reconfigure(server, "read-only = false\nauth-file = \"/no/such/file\"\n", "reload refused");
  EXPECT_EQ(Curl({"-T", file.string(), server.url("/files/g")}), 403);

  Reconfigure(server, "partial-ttl = \"1h\"\ncache-policy = \"lru\"\n",
              "cache-policy, partial-ttl changed and needs a restart");
  EXPECT_EQ(Curl({"-T", file.string(), server.url("/files/g")}), 201);  // read-only is off again
  EXPECT_EQ(Curl({server.url("/files/g")}), 200);
}

TEST_F(Reload, ReadsNewTokensAndCertificates) {
  fs::path auth = dir_ / "auth.toml";
  auto write_auth = [&](const std::string& token) {
    WriteFile(auth, "anonymous = \"none\"\n[[token]]\n" + HashTokenLine(token) + "role = \"write\"\n");
  };
  // Two certificate authorities: the server's certificate is replaced by the second's.
  TempDir first, second;
  for (TempDir* certs : {&first, &second}) {
    RunResult made = RunProgram({"bash", FERRY_SOURCE_DIR "/scripts/make-test-ca.sh", certs->path().string()}, 60s);
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }
  fs::copy_file(first / "server.pem", dir_ / "server.pem");
  fs::copy_file(first / "server.key", dir_ / "server.key");
  write_auth("first-token-0001");
  std::string config = "auth-file = \"" + auth.string() + "\"\ntls-cert = \"" +
                       (dir_ / "server.pem").string() + "\"\ntls-key = \"" +
                       (dir_ / "server.key").string() + "\"\n";
  WriteFile(config_, config);
  Ferryd server({"--config", config_.string()});
  std::string https = "https://127.0.0.1:" + std::to_string(server.http_port()) + "/files/x";
  auto as = [&](const std::string& token, const TempDir& ca) {
    return Curl({"--cacert", (ca / "ca.pem").string(), "-H", "Authorization: Bearer " + token, https});
  };
  EXPECT_EQ(as("first-token-0001", first), 404);
  EXPECT_EQ(as("second-token-0002", first), 401);

  write_auth("second-token-0002");
  fs::copy_file(second / "server.pem", dir_ / "server.pem", fs::copy_options::overwrite_existing);
  fs::copy_file(second / "server.key", dir_ / "server.key", fs::copy_options::overwrite_existing);
  Reconfigure(server, config, "reloaded");
  EXPECT_EQ(as("second-token-0002", second), 404);
  EXPECT_EQ(as("first-token-0001", second), 401);
  EXPECT_EQ(as("second-token-0002", first), -1);  // curl: the old CA no longer verifies
}

// ferryd speaks systemd's notify protocol (Type=notify) to the socket NOTIFY_SOCKET names.
TEST(Systemd, NotifiesReadyReloadingAndStopping) {
  TempDir dir;
  fs::path socket_path = dir / "notify";
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  timeval timeout{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  auto next = [&] {
    char message[4096];
    ssize_t got = ::recv(fd, message, sizeof message, 0);
    return got > 0 ? std::string(message, static_cast<std::size_t>(got)) : std::string("(none)");
  };
  ::setenv("NOTIFY_SOCKET", socket_path.c_str(), 1);
  std::optional<Ferryd> server(std::in_place);  // the fixture waits for the ready file
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_NE(next().find("READY=1"), std::string::npos);
  ASSERT_EQ(::kill(server->pid(), SIGHUP), 0);
  EXPECT_NE(next().find("RELOADING=1"), std::string::npos);
  EXPECT_NE(next().find("READY=1"), std::string::npos);
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_NE(next().find("STOPPING=1"), std::string::npos);
  ::close(fd);
}

}  // namespace
}  // namespace ferry::testing
