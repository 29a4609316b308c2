#include "service/file_service.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "tests/temp_dir.h"

namespace ferry::service {
namespace {

using ferry::testing::TempDir;

ObjectName Name(const std::string& text) { return *ObjectName::FromDecoded(text); }

Checksum Xxh(std::string_view bytes) {
  Hasher hasher(ChecksumAlgo::kXxh128);
  hasher.Update(bytes);
  return hasher.Finish();
}

class FileServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = std::move(*store::OpenLocalStore({dir_ / "data", true}));
    cache_ = std::move(*cache::Cache::Open(
        std::move(*store::OpenLocalStore({dir_ / "cache", false})), {}));
    // Background fills run inline: deterministic.
    service_ = std::make_unique<FileService>(*data_, cache_.get(),
                                             [](std::function<void()> job) { job(); });
  }

  Result<protocol::PutDone> Put(const std::string& name, const std::string& bytes,
                                std::optional<Checksum> expected = std::nullopt) {
    auto upload = service_->Put(Name(name), bytes.size(), std::move(expected));
    if (!upload.ok()) return upload.status();
    if (Status s = (*upload)->Append(bytes); !s.ok()) return s;
    return (*upload)->Commit();
  }

  // The bytes a session would send. Fills run inline here, so a followed fill is complete.
  std::string Body(Download& download) {
    std::string bytes(download.head.length, '\0');
    if (download.filling) {
      EXPECT_TRUE(download.filling->state().done);
      ssize_t got = ::pread(download.filling->fd(), bytes.data(), bytes.size(),
                            static_cast<off_t>(download.offset));
      bytes.resize(static_cast<std::size_t>(std::max<ssize_t>(got, 0)));
      return bytes;
    }
    auto got = download.file->ReadAt(download.offset, {bytes.data(), bytes.size()});
    EXPECT_TRUE(got.ok());
    bytes.resize(*got);
    return bytes;
  }

  TempDir dir_;
  std::unique_ptr<store::Store> data_;
  std::unique_ptr<cache::Cache> cache_;
  std::unique_ptr<FileService> service_;
};

TEST_F(FileServiceTest, PutThenGetFromDataThenFromCache) {
  auto done = Put("a.txt", "hello");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->checksum, Xxh("hello"));
  auto first = service_->Get(Name("a.txt"), 0, std::nullopt);  // a miss: follows its fill
  ASSERT_TRUE(first.ok());
  EXPECT_NE(first->filling, nullptr);
  EXPECT_EQ(Body(*first), "hello");
  auto second = service_->Get(Name("a.txt"), 0, std::nullopt);  // a hit: the ready copy
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->from_cache);
  EXPECT_NE(second->file, nullptr);
  EXPECT_EQ(Body(*second), "hello");
  auto listed = service_->List("");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].cached);
}

TEST_F(FileServiceTest, RangesAndTheirLimits) {
  ASSERT_TRUE(Put("r", "0123456789").ok());
  auto middle = service_->Get(Name("r"), 3, 4);
  ASSERT_TRUE(middle.ok());
  EXPECT_EQ(Body(*middle), "3456");
  EXPECT_EQ(middle->head.size, 10u);
  EXPECT_EQ(middle->head.checksum, Xxh("0123456789"));  // of the whole file
  auto tail = service_->Get(Name("r"), 8, 100);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(Body(*tail), "89");
  auto at_end = service_->Get(Name("r"), 10, std::nullopt);
  ASSERT_TRUE(at_end.ok());
  EXPECT_EQ(at_end->head.length, 0u);
  EXPECT_EQ(service_->Get(Name("r"), 11, std::nullopt).status().code(), Code::kBadRange);
}

TEST_F(FileServiceTest, WrongChecksumIs422AndThePreviousVersionStays) {
  ASSERT_TRUE(Put("f", "version one").ok());
  auto refused = Put("f", "version two", Xxh("something else"));
  EXPECT_EQ(refused.status().code(), Code::kChecksumMismatch);
  auto get = service_->Get(Name("f"), 0, std::nullopt);
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(Body(*get), "version one");
  // sha256 from the client is verified too, and echoed in its algorithm.
  Hasher sha(ChecksumAlgo::kSha256);
  sha.Update("version two");
  Checksum expected = sha.Finish();
  auto accepted = Put("f", "version two", expected);
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->checksum, expected);
}

TEST_F(FileServiceTest, ShortBodyIsRefused) {
  auto upload = service_->Put(Name("short"), 10, std::nullopt);
  ASSERT_TRUE(upload.ok());
  ASSERT_TRUE((*upload)->Append("12345").ok());
  EXPECT_EQ((*upload)->Commit().status().code(), Code::kBadRequest);
  EXPECT_EQ(service_->Stat(Name("short")).status().code(), Code::kNotFound);
}

TEST_F(FileServiceTest, PutReplacesTheCachedCopy) {
  ASSERT_TRUE(Put("f", "old").ok());
  ASSERT_TRUE(service_->Get(Name("f"), 0, std::nullopt).ok());  // fills the cache
  ASSERT_TRUE(service_->Get(Name("f"), 0, std::nullopt)->from_cache);
  ASSERT_TRUE(Put("f", "new!").ok());
  auto get = service_->Get(Name("f"), 0, std::nullopt);
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(Body(*get), "new!");
}

TEST_F(FileServiceTest, AFileChangedBehindTheServersBackIsNeverServedStale) {
  ASSERT_TRUE(Put("f", "old bytes").ok());
  ASSERT_TRUE(service_->Get(Name("f"), 0, std::nullopt).ok());
  ASSERT_TRUE(service_->Get(Name("f"), 0, std::nullopt)->from_cache);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ferry::testing::WriteFile(dir_ / "data" / "f", "NEW BYTES");  // same size, new mtime
  auto get = service_->Get(Name("f"), 0, std::nullopt);
  ASSERT_TRUE(get.ok());
  EXPECT_NE(get->filling, nullptr);  // not the stale copy: a new fill of the new bytes
  EXPECT_EQ(Body(*get), "NEW BYTES");
  EXPECT_EQ(get->head.checksum, Xxh("NEW BYTES"));
  auto stat = service_->Stat(Name("f"));
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(stat->checksum, Xxh("NEW BYTES"));
}

TEST_F(FileServiceTest, DeleteRemovesDataAndCopy) {
  ASSERT_TRUE(Put("f", "x").ok());
  ASSERT_TRUE(service_->Get(Name("f"), 0, std::nullopt).ok());
  ASSERT_TRUE(service_->Delete(Name("f")).ok());
  EXPECT_EQ(service_->Get(Name("f"), 0, std::nullopt).status().code(), Code::kNotFound);
  EXPECT_EQ(service_->Delete(Name("f")).code(), Code::kNotFound);
  EXPECT_TRUE(cache_->CachedNames("").empty());
}

TEST_F(FileServiceTest, StatsCountHitsAndMisses) {
  ASSERT_TRUE(Put("f", "12345").ok());
  ASSERT_TRUE(service_->Get(Name("f"), 0, std::nullopt).ok());  // miss, fills
  ASSERT_TRUE(service_->Get(Name("f"), 1, 2).ok());             // hit, 2 bytes
  std::map<std::string, std::string> stats;
  for (auto& v : service_->Stats()) stats[v.name] = v.value;
  EXPECT_EQ(stats["hits"], "1");
  EXPECT_EQ(stats["misses"], "1");
  EXPECT_EQ(stats["hit_ratio"], "0.5000");
  EXPECT_EQ(stats["bytes_from_cache"], "7");  // the miss streamed from its own fill
  EXPECT_EQ(stats["bytes_from_store"], "0");
  EXPECT_EQ(stats["store_bytes_read"], "5");   // read once, by the fill
  EXPECT_EQ(stats["files_cached"], "1");
  EXPECT_EQ(stats["fills_in_flight"], "0");
}

}  // namespace
}  // namespace ferry::service
