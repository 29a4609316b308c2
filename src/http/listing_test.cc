#include "http/listing.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ferry::http {
namespace {

std::vector<protocol::FileEntry> Entries() {
  return {{"a/z.txt", 3, 0, true, std::nullopt},
          {"a/b/deep.bin", 5, 0, false, std::nullopt},
          {"a/b/c/deeper", 1, 0, false, std::nullopt},
          {"a/<script>&\"x\".html", 7, 86400, false, std::nullopt},
          {"a/m", 0, 0, false, std::nullopt},
          {"a/d/x", 0, 0, false, std::nullopt}};
}

TEST(FolderViewTest, OneLevel) {
  FolderView view = BuildFolderView("a/", Entries());
  EXPECT_EQ(view.subfolders, (std::vector<std::string>{"b", "d"}));
  ASSERT_EQ(view.files.size(), 3u);
  EXPECT_EQ(view.files[0].name, "<script>&\"x\".html");
  EXPECT_EQ(view.files[1].name, "m");
  EXPECT_EQ(view.files[2].name, "z.txt");
  EXPECT_TRUE(view.files[2].cached);
}

TEST(ListingJsonTest, StableFields) {
  auto doc = nlohmann::json::parse(RenderListingJson(BuildFolderView("a/", Entries())));
  EXPECT_EQ(doc["folder"], "a/");
  EXPECT_EQ(doc["folders"], nlohmann::json({"b/", "d/"}));
  ASSERT_EQ(doc["files"].size(), 3u);
  const auto& first = doc["files"][0];
  EXPECT_EQ(first["name"], "<script>&\"x\".html");
  EXPECT_EQ(first["path"], "a/<script>&\"x\".html");
  EXPECT_EQ(first["size"], 7);
  EXPECT_EQ(first["mtime"], 86400);
  EXPECT_EQ(first["modified"], "1970-01-02T00:00:00Z");
  EXPECT_EQ(first["cached"], false);
  EXPECT_EQ(doc["files"][2]["cached"], true);
}

TEST(ListingHtmlTest, EscapesNamesAndLinksRelatively) {
  std::string html = RenderListingHtml(BuildFolderView("a/", Entries()));
  EXPECT_EQ(html.find("<script>&"), std::string::npos) << "a name must not open a tag";
  EXPECT_NE(html.find("&lt;script&gt;&amp;&quot;x&quot;.html</a>"), std::string::npos);
  EXPECT_NE(html.find("href=\"./%3Cscript%3E%26%22x%22.html\""), std::string::npos);
  EXPECT_NE(html.find("href=\"./b/\""), std::string::npos);
  EXPECT_NE(html.find("href=\"../\""), std::string::npos);
  EXPECT_NE(html.find("id=\"listing\""), std::string::npos);
  EXPECT_NE(html.find("id=\"upload-input\""), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos) << "no external asset";
  EXPECT_EQ(html.find("https://"), std::string::npos) << "no external asset";
  std::string root = RenderListingHtml(BuildFolderView("", {}));
  EXPECT_EQ(root.find("href=\"../\""), std::string::npos) << "the root has no parent";
  EXPECT_NE(root.find("empty folder"), std::string::npos);
}

}  // namespace
}  // namespace ferry::http
