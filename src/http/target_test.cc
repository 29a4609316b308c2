#include "http/target.h"

#include <gtest/gtest.h>

namespace ferry::http {
namespace {

using Kind = Target::Kind;

TEST(ParseTargetTest, Routes) {
  EXPECT_EQ(ParseTarget("/")->kind, Kind::kRedirectToFiles);
  EXPECT_EQ(ParseTarget("/files")->kind, Kind::kRedirectToFiles);
  EXPECT_EQ(ParseTarget("/metrics")->kind, Kind::kMetrics);
  EXPECT_EQ(ParseTarget("/healthz?verbose=1")->kind, Kind::kHealth);
  EXPECT_EQ(ParseTarget("/favicon.ico")->kind, Kind::kUnknown);
  EXPECT_EQ(ParseTarget("/filesx/a")->kind, Kind::kUnknown);

  Target root = *ParseTarget("/files/");
  EXPECT_EQ(root.kind, Kind::kFolder);
  EXPECT_EQ(root.folder, "");
  Target folder = *ParseTarget("/files/a/b%20c/?sort=name");
  EXPECT_EQ(folder.kind, Kind::kFolder);
  EXPECT_EQ(folder.folder, "a/b c/");
  Target file = *ParseTarget("/files/a/%C3%A9t%C3%A9.txt?x");
  EXPECT_EQ(file.kind, Kind::kFile);
  EXPECT_EQ(file.file->str(), "a/\xC3\xA9t\xC3\xA9.txt");
}

TEST(ParseTargetTest, RefusesWhatTheNamePolicyRefuses) {
  for (std::string_view bad :
       {"/files/../x", "/files/%2e%2e/x", "/files/a/%2E%2E/b", "/files/a/../", "/files/./a",
        "/files//a", "/files/a//", "/files/a%00b", "/files/a%0Ab", "/files/a%5Cb", "/files/%zz",
        "/files/%ff", "/files/.ferry/tmp/x", "/files/.ferry/"}) {
    Result<Target> parsed = ParseTarget(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_TRUE(parsed.status().code() == Code::kBadRequest || parsed.status().code() == Code::kForbidden)
        << bad << ": " << parsed.status().ToString();
  }
}

}  // namespace
}  // namespace ferry::http
