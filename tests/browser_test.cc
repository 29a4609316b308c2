// The HTML listing in a real browser: headless Chromium (Debian's) loads ferryd's page, finds
// the listing, uploads a file through the page's own form, and leaves a screenshot in
// FERRY_ARTIFACT_DIR. Label "browser": `make test-browser` installs Chromium and runs it.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/ferryd_fixture.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

TEST(Browser, ListingRendersAndAnUploadThroughThePageLands) {
  if (!fs::exists("/usr/bin/chromium")) {
    GTEST_SKIP() << "no /usr/bin/chromium: run `make test-browser`, which installs it";
  }
  Ferryd server;
  fs::create_directories(server.data() / "photos/2026");
  std::ofstream(server.data() / "readme.txt") << "hello from ferry\n";
  std::ofstream(server.data() / "photos/2026/sea.jpg") << "not really a jpeg";
  TempDir local;
  fs::path upload = local / "from the browser.bin";
  WriteRandomFile(upload, 300'000, 42);

  fs::path artifacts = FERRY_ARTIFACT_DIR;
  fs::create_directories(artifacts);
  fs::path screenshot = artifacts / "browser-listing.png";
  fs::remove(screenshot);
  RunResult run = RunProgram({"/usr/bin/python3", FERRY_SOURCE_DIR "/tests/browser/drive_chromium.py",
                              "--url", server.url("/files/"), "--expect", "readme.txt",
                              "--expect", "photos/", "--upload", upload.string(), "--screenshot",
                              screenshot.string(), "--timeout", "90"},
                             std::chrono::seconds(120));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(FileChecksum(server.data() / "from the browser.bin"), FileChecksum(upload))
      << "the page's upload must land byte-exact";
  ASSERT_TRUE(fs::exists(screenshot));
  std::ifstream png(screenshot, std::ios::binary);
  char magic[8] = {};
  png.read(magic, sizeof magic);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_GT(fs::file_size(screenshot), 5'000u) << "a blank page compresses to almost nothing";
}

}  // namespace
}  // namespace ferry::testing
