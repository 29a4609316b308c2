#include "service/hot_files.h"

#include <gtest/gtest.h>

namespace ferry::service {
namespace {

using Clock = HotFiles::Clock;
using namespace std::chrono_literals;

std::shared_ptr<const HotFile> File(std::string name, std::size_t size, Clock::time_point loaded) {
  auto file = std::make_shared<HotFile>();
  file->entry.name = std::move(name);
  file->entry.size = size;
  file->bytes.assign(size, 'x');
  file->loaded = loaded;
  return file;
}

TEST(HotFiles, KeepsSmallFilesWithinItsBytesLeastRecentlyUsedOut) {
  Clock::time_point now = Clock::now();
  constexpr std::uint64_t kEach = 100 + 2 + HotFiles::kEntryOverhead;  // bytes, name twice, overhead
  HotFiles hot(/*max_bytes=*/3 * kEach, /*max_object=*/100, 1s);
  EXPECT_TRUE(hot.Wants(100));
  EXPECT_FALSE(hot.Wants(101));
  hot.Insert(File("a", 100, now), hot.epoch());
  hot.Insert(File("b", 100, now), hot.epoch());
  hot.Insert(File("c", 100, now), hot.epoch());
  ASSERT_NE(hot.Find("a", now), nullptr);  // a is now the most recently used
  hot.Insert(File("d", 100, now), hot.epoch());
  EXPECT_EQ(hot.Find("b", now), nullptr) << "the least recently used goes first";
  EXPECT_NE(hot.Find("a", now), nullptr);
  EXPECT_NE(hot.Find("c", now), nullptr);
  EXPECT_NE(hot.Find("d", now), nullptr);
  EXPECT_EQ(hot.bytes(), 3 * kEach);
  EXPECT_EQ(hot.count(), 3u);
  hot.Insert(File("big", 101, now), hot.epoch());
  EXPECT_EQ(hot.Find("big", now), nullptr) << "above max_object: not kept";
}

TEST(HotFiles, AnEntryExpiresAfterItsValidity) {
  Clock::time_point now = Clock::now();
  HotFiles hot(1000, 100, 1s);
  hot.Insert(File("a", 10, now), hot.epoch());
  EXPECT_NE(hot.Find("a", now + 999ms), nullptr);
  EXPECT_EQ(hot.Find("a", now + 1s), nullptr);
  EXPECT_EQ(hot.count(), 0u) << "an expired entry is dropped";
  EXPECT_EQ(hot.bytes(), 0u);
}

TEST(HotFiles, NoValidityNoCopies) {
  // --revalidate-after 0 on an S3 store: every GET asks the store, so no copy is ever served,
  // and none is made.
  Clock::time_point now = Clock::now();
  HotFiles hot(1000, 100, 0s);
  EXPECT_FALSE(hot.Wants(10));
  hot.Insert(File("a", 10, now), hot.epoch());
  EXPECT_EQ(hot.count(), 0u);
  EXPECT_EQ(hot.bytes(), 0u);
}

TEST(HotFiles, ACopyReadBeforeAForgetIsNotKept) {
  Clock::time_point now = Clock::now();
  HotFiles hot(1000, 100, 1s);
  std::uint64_t before_put = hot.epoch();  // a GET opens the old version...
  hot.Forget("a");                         // ...a PUT of a commits and forgets...
  hot.Insert(File("a", 10, now), before_put);  // ...the GET offers what it read: refused
  EXPECT_EQ(hot.Find("a", now), nullptr);
  hot.Insert(File("a", 10, now), hot.epoch());
  EXPECT_NE(hot.Find("a", now), nullptr);
  hot.Forget("a");
  EXPECT_EQ(hot.Find("a", now), nullptr);
}

TEST(HotFiles, ReplacingANameKeepsTheCountsRight) {
  Clock::time_point now = Clock::now();
  HotFiles hot(1000, 100, 1s);
  hot.Insert(File("a", 10, now), hot.epoch());
  hot.Insert(File("a", 30, now), hot.epoch());
  EXPECT_EQ(hot.count(), 1u);
  EXPECT_EQ(hot.bytes(), 30u + 2 + HotFiles::kEntryOverhead);
  EXPECT_EQ(hot.Find("a", now)->bytes.size(), 30u);
}

TEST(HotFiles, EmptyFilesStillCostTheirEntry) {
  Clock::time_point now = Clock::now();
  HotFiles hot(10 * HotFiles::kEntryOverhead, 100, 1s);
  for (int i = 0; i < 1000; ++i) hot.Insert(File("empty" + std::to_string(i), 0, now), hot.epoch());
  EXPECT_LE(hot.count(), 10u);
  EXPECT_LE(hot.bytes(), 10 * HotFiles::kEntryOverhead);
}

TEST(HotFiles, NoBytesNoFiles) {
  HotFiles hot(0, 100, 1s);
  EXPECT_FALSE(hot.Wants(0));
  hot.Insert(File("a", 0, Clock::now()), hot.epoch());
  EXPECT_EQ(hot.count(), 0u);
}

}  // namespace
}  // namespace ferry::service
