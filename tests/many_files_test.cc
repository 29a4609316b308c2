// Folders, globs, parallel transfers, --skip-existing, JSON lines and progress bars: the real
// ferry CLI against a real ferryd.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include "tests/ferryd_fixture.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

// Every regular file under `root`, by relative path, with its checksum.
std::map<std::string, std::string> Tree(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) {
      files[entry.path().lexically_relative(root).generic_string()] = FileChecksum(entry.path());
    }
  }
  return files;
}

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

class ManyFiles : public ::testing::Test {
 protected:
  RunResult Ferry(std::vector<std::string> args) {
    args.insert(args.begin(), {FerryPath(), "--server", server_.address()});
    return RunProgram(args, std::chrono::seconds(120));
  }
  Ferryd server_;
  TempDir local_;
};

TEST_F(ManyFiles, RecursiveRoundTripOfANestedTreeWithEmptyFilesAndOddNames) {
  fs::path source = local_ / "src" / "album";
  std::vector<std::pair<std::string, std::size_t>> files = {
      {"top.bin", 70'000},          {"empty", 0},
      {"a/b/c/deep.txt", 100},      {"a/b/empty too", 0},
      {"spaces and ünïcödé €/x", 5}, {"odd #%?&=+;,'!() name", 33},
      {".hidden", 7},               {"a/sibling.bin", 300'000}};
  for (std::size_t i = 0; i < files.size(); ++i) {
    fs::create_directories((source / files[i].first).parent_path());
    std::ofstream(source / files[i].first, std::ios::binary) << RandomBytes(files[i].second, i);
  }
  RunResult put = Ferry({"put", "-r", source.string(), "backup/"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_NE(put.err.find("8 files"), std::string::npos) << put.err;
  EXPECT_EQ(Tree(server_.data() / "backup/album"), Tree(source));

  fs::path dest = local_ / "dest";
  RunResult get = Ferry({"get", "-r", "backup/album", dest.string()});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(Tree(dest / "album"), Tree(source));
}

TEST_F(ManyFiles, TwoHundredSmallFilesInParallelThenSkippedWhenTheyMatch) {
  fs::path source = local_ / "many";
  for (int i = 0; i < 200; ++i) {
    fs::create_directories(source / ("d" + std::to_string(i % 7)));
    std::ofstream(source / ("d" + std::to_string(i % 7)) / ("f" + std::to_string(i)), std::ios::binary)
        << RandomBytes(static_cast<std::size_t>(i * 37), static_cast<std::uint64_t>(i));
  }
  RunResult put = Ferry({"--json", "put", "-r", "--parallel", "8", source.string()});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  std::vector<nlohmann::json> lines = JsonLines(put.out);
  ASSERT_EQ(lines.size(), 200u);
  for (const nlohmann::json& line : lines) {
    // Stable fields, each checked: a script may rely on every one.
    ASSERT_TRUE(line["name"].is_string());
    EXPECT_TRUE(line["name"].get<std::string>().starts_with("many/d"));
    EXPECT_TRUE(line["path"].is_string());
    EXPECT_TRUE(line["size"].is_number_unsigned());
    EXPECT_EQ(line["ok"], true);
    EXPECT_EQ(line["skipped"], false);
    EXPECT_EQ(line["resumed_from"], 0);
    EXPECT_EQ(line["from_cache"], false);
    EXPECT_EQ(line["checksum"], FileChecksum(line["path"].get<std::string>()));
    EXPECT_FALSE(line.contains("error"));
  }
  EXPECT_EQ(Tree(server_.data() / "many"), Tree(source));

  fs::path dest = local_ / "dest";
  RunResult get = Ferry({"get", "-r", "-P", "8", "many", dest.string()});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(Tree(dest / "many"), Tree(source));

  // Again: everything already matches, nothing moves.
  std::ofstream(source / "d0" / "f0", std::ios::binary) << "changed";  // except this one
  RunResult again = Ferry({"--json", "put", "-r", "--skip-existing", source.string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  int skipped = 0;
  for (const nlohmann::json& line : JsonLines(again.out)) {
    bool changed = line["name"] == "many/d0/f0";
    EXPECT_EQ(line["skipped"], !changed) << line;
    skipped += line["skipped"].get<bool>() ? 1 : 0;
  }
  EXPECT_EQ(skipped, 199);
  EXPECT_EQ(FileChecksum(server_.data() / "many/d0/f0"), FileChecksum(source / "d0" / "f0"));
  RunResult get_again = Ferry({"--json", "get", "-r", "--skip-existing", "many", dest.string()});
  ASSERT_EQ(get_again.exit_code, 0) << get_again.err;
  skipped = 0;
  for (const nlohmann::json& line : JsonLines(get_again.out)) skipped += line["skipped"].get<bool>() ? 1 : 0;
  EXPECT_EQ(skipped, 199) << "only the changed file moves";
  EXPECT_EQ(Tree(dest / "many"), Tree(source));
}

TEST_F(ManyFiles, GlobsMatchWithinAFolderAndFailuresAreListedPerFile) {
  for (std::string name : {"logs/a.gz", "logs/b.gz", "logs/c.txt", "logs/old/d.gz", "other.gz"}) {
    fs::create_directories((server_.data() / name).parent_path());
    std::ofstream(server_.data() / name) << name;
  }
  fs::path dest = local_ / "out";
  RunResult get = Ferry({"get", "logs/*.gz", dest.string()});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(Tree(dest), (std::map<std::string, std::string>{
                            {"a.gz", FileChecksum(server_.data() / "logs/a.gz")},
                            {"b.gz", FileChecksum(server_.data() / "logs/b.gz")}}));
  EXPECT_EQ(Ferry({"get", "logs/*.zip", dest.string()}).exit_code, 1) << "nothing matches";
  // Two matches with one base name would overwrite each other: refused before any transfer.
  for (std::string name : {"x/same.gz", "y/same.gz"}) {
    fs::create_directories((server_.data() / name).parent_path());
    std::ofstream(server_.data() / name) << name;
  }
  RunResult clash = Ferry({"get", "*/same.gz", (local_ / "clash").string()});
  EXPECT_EQ(clash.exit_code, 1);
  EXPECT_NE(clash.err.find("x/same.gz and y/same.gz would both land in"), std::string::npos) << clash.err;
  EXPECT_FALSE(fs::exists(local_ / "clash" / "same.gz"));

  // One file cannot land (a folder holds its part file's name): the others do, the exit is 1,
  // and the error names the file.
  fs::path blocked = local_ / "blocked";
  fs::create_directories(blocked / "b.gz.ferry-part" / "in the way");
  RunResult partial = Ferry({"get", "logs/*.gz", blocked.string()});
  EXPECT_EQ(partial.exit_code, 1);
  EXPECT_NE(partial.err.find("ferry: logs/b.gz: "), std::string::npos) << partial.err;
  EXPECT_NE(partial.err.find("1 FAILED"), std::string::npos) << partial.err;
  EXPECT_EQ(FileChecksum(blocked / "a.gz"), FileChecksum(server_.data() / "logs/a.gz"));
}

// Runs `command` on a pseudo-terminal (script(1)), returning what the terminal showed.
std::string OnATerminal(const std::string& command) {
  RunResult run = RunProgram({"script", "-qfec", command, "/dev/null"}, std::chrono::seconds(60));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return run.out;
}

TEST_F(ManyFiles, ProgressOnATerminalOnlyAndNeverWithQuiet) {
  WriteRandomFile(server_.data() / "big.bin", 32 << 20, 9);
  std::string ferry = FerryPath() + " --server " + server_.address();
  std::string shown = OnATerminal(ferry + " get big.bin -o " + (local_ / "a.bin").string());
  EXPECT_NE(shown.find("\r"), std::string::npos) << shown;
  EXPECT_NE(shown.find("big.bin  ["), std::string::npos) << shown;
  EXPECT_NE(shown.find("100%"), std::string::npos) << shown;
  EXPECT_NE(shown.find("1 file, 32.0 MiB in"), std::string::npos) << "the summary line: " << shown;

  std::string quiet = OnATerminal(ferry + " --quiet get big.bin -o " + (local_ / "b.bin").string());
  EXPECT_EQ(quiet, "") << "--quiet: nothing at all";

  RunResult piped = Ferry({"get", "big.bin", "-o", (local_ / "c.bin").string()});
  ASSERT_EQ(piped.exit_code, 0);
  EXPECT_EQ(piped.err.find('\r'), std::string::npos) << "no bar when stderr is not a terminal";
  EXPECT_EQ(piped.err.find('%'), std::string::npos) << piped.err;
  EXPECT_NE(piped.err.find("1 file, 32.0 MiB"), std::string::npos) << piped.err;
  EXPECT_EQ(FileChecksum(local_ / "c.bin"), FileChecksum(server_.data() / "big.bin"));
}

}  // namespace
}  // namespace ferry::testing
