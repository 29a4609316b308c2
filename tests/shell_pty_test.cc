// `ferry shell` driven through a pseudo-terminal, as a person would: type, wait for the
// prompt, press Tab. Against a real ferryd.
#include <gtest/gtest.h>

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/ferryd_fixture.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

// A program on the slave side of a pty; the test holds the master.
class PtySession {
 public:
  PtySession(const std::vector<std::string>& argv, const fs::path& cwd) {
    winsize size{.ws_row = 40, .ws_col = 120};
    pid_ = ::forkpty(&master_, nullptr, nullptr, &size);
    if (pid_ == 0) {
      ::setenv("TERM", "xterm", 1);
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    EXPECT_GT(pid_, 0);
  }
  ~PtySession() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(master_);
  }

  void Type(std::string_view keys) {
    while (!keys.empty()) {
      ssize_t n = ::write(master_, keys.data(), keys.size());
      if (n <= 0) return;
      keys.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // Reads until `text` has appeared (after what earlier waits consumed); false after 10 s.
  bool WaitFor(std::string_view text) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (true) {
      std::size_t found = screen_.find(text, consumed_);
      if (found != std::string::npos) {
        consumed_ = found + text.size();
        return true;
      }
      if (std::chrono::steady_clock::now() > deadline) return false;
      pollfd ready{master_, POLLIN, 0};
      if (::poll(&ready, 1, 100) <= 0) continue;
      char buffer[4096];
      ssize_t n = ::read(master_, buffer, sizeof buffer);
      if (n <= 0) return false;
      screen_.append(buffer, static_cast<std::size_t>(n));
    }
  }
  // The exit status once it ends (within 10 s), or -1.
  int Wait() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      char buffer[4096];
      pollfd ready{master_, POLLIN, 0};
      if (::poll(&ready, 1, 10) > 0 && ::read(master_, buffer, sizeof buffer) > 0) continue;
      // Once the program closed the terminal, poll and read fail at once (POLLHUP, EIO): wait
      // here, or a loaded machine runs out of tries before the exit status is there.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  const std::string& screen() const { return screen_; }

 private:
  pid_t pid_ = -1;
  int master_ = -1;
  std::string screen_;
  std::size_t consumed_ = 0;
};

TEST(ShellOnATerminal, LsCdGetPutWithTabCompletionAndHistory) {
  Ferryd server;
  fs::create_directories(server.data() / "docs/sub");
  std::ofstream(server.data() / "docs/readme.txt") << "read me\n";
  std::ofstream(server.data() / "docs/sub/deep.bin") << "deep";
  std::ofstream(server.data() / "top.txt") << "top";
  TempDir local;
  std::ofstream(local / "mine.txt") << "uploaded from the shell";

  PtySession shell({FerryPath(), "--server", server.address(), "shell"}, local.path());
  ASSERT_TRUE(shell.WaitFor("ferry:/> ")) << shell.screen();
  shell.Type("ls\r");
  ASSERT_TRUE(shell.WaitFor("docs/")) << shell.screen();
  ASSERT_TRUE(shell.WaitFor("top.txt")) << shell.screen();
  ASSERT_TRUE(shell.WaitFor("ferry:/> ")) << shell.screen();

  // Tab completes the folder name, then the file name inside it.
  shell.Type("cd do\t\r");
  ASSERT_TRUE(shell.WaitFor("ferry:/docs> ")) << shell.screen();
  shell.Type("get rea\t\r");
  ASSERT_TRUE(shell.WaitFor("docs/readme.txt -> readme.txt")) << shell.screen();
  ASSERT_TRUE(shell.WaitFor("ferry:/docs> ")) << shell.screen();
  EXPECT_EQ(FileChecksum(local / "readme.txt"), FileChecksum(server.data() / "docs/readme.txt"));

  shell.Type("put mine.txt\r");
  ASSERT_TRUE(shell.WaitFor("mine.txt -> docs/mine.txt")) << shell.screen();
  ASSERT_TRUE(shell.WaitFor("ferry:/docs> ")) << shell.screen();
  EXPECT_EQ(FileChecksum(server.data() / "docs/mine.txt"), FileChecksum(local / "mine.txt"));

  shell.Type("cd sub\r");
  ASSERT_TRUE(shell.WaitFor("ferry:/docs/sub> ")) << shell.screen();
  shell.Type("cd ..\r");
  ASSERT_TRUE(shell.WaitFor("ferry:/docs> ")) << shell.screen();
  shell.Type("cd nowhere\r");
  ASSERT_TRUE(shell.WaitFor("error: 404")) << shell.screen();
  ASSERT_TRUE(shell.WaitFor("ferry:/docs> ")) << "an error keeps the shell going: " << shell.screen();

  // History: Up brings back "cd nowhere"; edit it into "cd sub".
  shell.Type("\x1b[A");
  ASSERT_TRUE(shell.WaitFor("cd nowhere")) << shell.screen();
  shell.Type(std::string(7, '\x7f') + "sub\r");
  ASSERT_TRUE(shell.WaitFor("ferry:/docs/sub> ")) << shell.screen();
  shell.Type("quit\r");
  EXPECT_EQ(shell.Wait(), 0) << shell.screen();
}

TEST(ShellFromAPipe, ScriptsLikeAnyCommand) {
  Ferryd server;
  std::ofstream(server.data() / "a.txt") << "a";
  TempDir local;
  std::ofstream(local / "commands") << "ls\nstat a.txt\nrm a.txt\nls\n";
  RunResult run = RunProgram({"sh", "-c",
                              FerryPath() + " --server " + server.address() + " shell < " +
                                  (local / "commands").string()});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("a.txt: 1 B (1 bytes), checksum xxh128:"), std::string::npos) << run.out;
  EXPECT_FALSE(fs::exists(server.data() / "a.txt"));
  EXPECT_EQ(run.out.find("ferry:/>"), std::string::npos) << "no prompt when not a terminal";
}

}  // namespace
}  // namespace ferry::testing
