#include "client/shell.h"

#include <gtest/gtest.h>

namespace ferry::client {
namespace {

TEST(ShellWordsTest, QuotesAndEscapes) {
  using Words = std::vector<std::string>;
  EXPECT_EQ(*SplitShellWords("  get  a.txt   b "), (Words{"get", "a.txt", "b"}));
  EXPECT_EQ(*SplitShellWords("put \"my file.txt\" 'x y'"), (Words{"put", "my file.txt", "x y"}));
  EXPECT_EQ(*SplitShellWords("get a\\ b \"q\\\"uote\""), (Words{"get", "a b", "q\"uote"}));
  EXPECT_EQ(*SplitShellWords("ls ''"), (Words{"ls", ""}));
  EXPECT_TRUE(SplitShellWords("")->empty());
  EXPECT_FALSE(SplitShellWords("get \"open").ok());
  EXPECT_FALSE(SplitShellWords("get 'open").ok());
}

TEST(ShellPathsTest, ResolveLikeAShell) {
  EXPECT_EQ(ResolveRemotePath("", "a.txt"), "a.txt");
  EXPECT_EQ(ResolveRemotePath("docs/", "a.txt"), "docs/a.txt");
  EXPECT_EQ(ResolveRemotePath("docs/sub/", ".."), "docs");
  EXPECT_EQ(ResolveRemotePath("docs/sub/", "../../x"), "x");
  EXPECT_EQ(ResolveRemotePath("docs/", "/top"), "top");
  EXPECT_EQ(ResolveRemotePath("", "../../.."), "") << ".. of the root is the root";
  EXPECT_EQ(ResolveRemotePath("a/", "./b//c/"), "a/b/c");
  EXPECT_EQ(ResolveRemotePath("a/", "/"), "");
}

TEST(ShellListingTest, FoldersFirstThenFiles) {
  std::vector<protocol::FileEntry> entries = {
      {"docs/z.txt", 1, 0, false, std::nullopt}, {"docs/a/b/c", 1, 0, false, std::nullopt},
      {"docs/a/d", 1, 0, false, std::nullopt},   {"docs/m", 1, 0, false, std::nullopt},
      {"other", 1, 0, false, std::nullopt}};
  EXPECT_EQ(ListOneLevel("docs/", entries), (std::vector<std::string>{"a/", "m", "z.txt"}));
  EXPECT_EQ(ListOneLevel("", entries), (std::vector<std::string>{"docs/", "other"}));
}

}  // namespace
}  // namespace ferry::client
