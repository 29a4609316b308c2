// ferryd's life: interrupted uploads, graceful stop, restart, configuration errors.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include "client/client.h"
#include "tests/ferryd_fixture.h"

namespace ferry::testing {
namespace {

using Clock = std::chrono::steady_clock;

TEST(Lifecycle, KilledClientMidUploadLeavesTheDataFolderUnchanged) {
  Ferryd server;
  TempDir local;
  WriteFile(server.data() / "victim.bin", "the old version");
  WriteRandomFile(local / "big.bin", 512u << 20, 7);
  // ferry's uploads are resumable: what a killed one sent waits in .ferry/partial.
  std::size_t partials = 0;
  for (const char* name : {"victim.bin", "brand-new.bin"}) {
    // --- a slow reader on the server side is not needed: 512 MiB takes long enough to cut.
    pid_t client = Spawn({FerryPath(), "--server", server.address(), "put",
                          (local / "big.bin").string(), name});
    ++partials;
    ASSERT_TRUE(Eventually([&] { return server.PartialFiles() == partials; }))
        << "upload never started";
    ::kill(client, SIGKILL);
    ::waitpid(client, nullptr, 0);
  }
  EXPECT_EQ(server.TmpFiles(), 0u);
  // A plain PUT that breaks off keeps nothing.
  {
    RawConnection c(server.port());
    c.Send("PUT victim.bin 1000000\n" + std::string(1000, 'x'));
    ASSERT_TRUE(Eventually([&] { return server.TmpFiles() == 1; }));
  }
  ASSERT_TRUE(Eventually([&] { return server.TmpFiles() == 0; }))
      << "the temporary file outlived the connection";
  EXPECT_EQ(ReadFile(server.data() / "victim.bin"), "the old version");
  EXPECT_FALSE(std::filesystem::exists(server.data() / "brand-new.bin"));
}

TEST(Lifecycle, SigtermLetsTransfersInFlightFinishThenExitsZero) {
  Ferryd server;
  TempDir local;
  WriteRandomFile(server.data() / "big.bin", 256u << 20, 9);
  auto client = client::Client::Connect({.server = server.address()});
  ASSERT_TRUE(client.ok());
  ObjectName name = *ObjectName::FromDecoded("big.bin");
  std::uint64_t received = 0;
  bool signalled = false;
  // Read slowly enough that SIGTERM arrives mid-transfer.
  auto sink = [&](std::string_view bytes) {
    received += bytes.size();
    if (!signalled && received > (8u << 20)) {
      ::kill(server.pid(), SIGTERM);
      signalled = true;
    }
    return Status::Ok();
  };
  auto head = (*client)->Get(name, 0, std::nullopt, sink);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(received, 256u << 20);
  EXPECT_TRUE(signalled);
  int status = server.Stop();
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Lifecycle, IdleConnectionsDoNotDelayAStop) {
  Ferryd server;
  RawConnection idle1(server.port());
  RawConnection idle2(server.port());
  idle1.Send("LIST\n");
  EXPECT_EQ(idle1.ReadLine(), "OK 0");
  auto start = Clock::now();
  int status = server.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(idle1.ClosedByPeer());
}

TEST(Lifecycle, RestartAfterKillRemovesInterruptedUploads) {
  Ferryd server;
  RawConnection c(server.port());
  c.Send("PUT partial.bin 1000000\n" + std::string(1000, 'x'));
  ASSERT_TRUE(Eventually([&] { return server.TmpFiles() == 1; }));
  server.Kill();
  EXPECT_EQ(server.TmpFiles(), 1u);  // what a crash leaves...
  server.Restart();
  EXPECT_EQ(server.TmpFiles(), 0u);  // ...the next start removes
  EXPECT_FALSE(std::filesystem::exists(server.data() / "partial.bin"));
}

TEST(Lifecycle, ConfigFileAndBadFlags) {
  TempDir dir;
  WriteFile(dir / "ferryd.toml", "threads = 1\nlog-level = \"warn\"\n");
  Ferryd server({"--config", (dir / "ferryd.toml").string()});
  RawConnection c(server.port());
  c.Send("LIST\n");
  EXPECT_EQ(c.ReadLine(), "OK 0");

  WriteFile(dir / "bad.toml", "thread = 1\n");
  RunResult unknown_key = RunProgram({FerrydPath(), "--config", (dir / "bad.toml").string()});
  EXPECT_EQ(unknown_key.exit_code, 2);
  EXPECT_NE(unknown_key.err.find("unknown key 'thread'"), std::string::npos) << unknown_key.err;
  EXPECT_EQ(RunProgram({FerrydPath(), "--no-such-flag"}).exit_code, 2);
  RunResult nested = RunProgram({FerrydPath(), "--data", (dir / "d").string(), "--cache",
                          (dir / "d/cache").string()});
  EXPECT_EQ(nested.exit_code, 2);
  EXPECT_EQ(RunProgram({FerrydPath(), "--version"}).exit_code, 0);
}

}  // namespace
}  // namespace ferry::testing
