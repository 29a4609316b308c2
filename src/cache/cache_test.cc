#include "cache/cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "tests/temp_dir.h"

namespace ferry::cache {
namespace {

using ferry::testing::TempDir;

ObjectName Name(const std::string& text) { return *ObjectName::FromDecoded(text); }

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override { data_ = std::move(*store::OpenLocalStore({dir_ / "data", true})); }

  std::unique_ptr<Cache> OpenCache(CacheOptions options) {
    auto cache = Cache::Open(std::move(*store::OpenLocalStore({dir_ / "cache", false})), options);
    EXPECT_TRUE(cache.ok()) << cache.status().ToString();
    return cache.ok() ? std::move(*cache) : nullptr;
  }

  // Writes a data file of `size` bytes; returns its checksum.
  Checksum PutData(const std::string& name, std::size_t size, char fill = 'x') {
    std::string bytes(size, fill);
    auto file = data_->BeginWrite(Name(name));
    EXPECT_TRUE((*file)->Append(bytes).ok());
    Hasher hasher(ChecksumAlgo::kXxh128);
    hasher.Update(bytes);
    Checksum checksum = hasher.Finish();
    EXPECT_TRUE((*file)->Commit(checksum).ok());
    return checksum;
  }

  Status Fill(Cache& cache, const std::string& name, const Checksum& checksum) {
    auto source = data_->OpenRead(Name(name));
    EXPECT_TRUE(source.ok());
    return cache.Fill(Name(name), **source, checksum);
  }

  // What one cached copy of `size` bytes occupies on this file system (data blocks plus,
  // where it does not fit in the inode, the checksum xattr's block).
  std::uint64_t CopyBytes(std::size_t size) {
    TempDir scratch;
    auto cache = Cache::Open(std::move(*store::OpenLocalStore({scratch / "c", false})), {});
    Checksum checksum = PutData("probe", size);
    EXPECT_TRUE(Fill(**cache, "probe", checksum).ok());
    return (*cache)->Stats().bytes_cached;
  }

  std::uint64_t FolderBytes() {
    std::uint64_t total = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir_ / "cache")) {
      if (e.is_regular_file()) total += std::filesystem::file_size(e.path());
    }
    return total;
  }

  TempDir dir_;
  std::unique_ptr<store::Store> data_;
};

TEST_F(CacheTest, StaysWithinItsBytesAndEvictsByPolicy) {
  const std::uint64_t limit = 10 * CopyBytes(4096);
  auto cache = OpenCache({.max_bytes = limit, .max_object = 8192, .policy = "lru"});
  std::vector<Checksum> checksums;
  for (int i = 0; i < 20; ++i) {
    checksums.push_back(PutData("f" + std::to_string(i), 4096));
    ASSERT_TRUE(Fill(*cache, "f" + std::to_string(i), checksums.back()).ok());
    ASSERT_LE(cache->Stats().bytes_cached, limit);
    ASSERT_LE(FolderBytes(), limit);
    if (i >= 1) {
      ASSERT_NE(cache->Lookup(Name("f0"), checksums[0]).copy, nullptr) << i;  // keep f0 hot
    }
  }
  // Each fill that fills the cache trims it to 90% (nine copies): 20 fills, 11 evictions.
  CacheStats stats = cache->Stats();
  EXPECT_EQ(stats.files_cached, 9u);
  EXPECT_EQ(stats.evictions, 11u);
  EXPECT_NE(cache->Lookup(Name("f0"), checksums[0]).copy, nullptr);    // hot: kept by LRU
  EXPECT_EQ(cache->Lookup(Name("f1"), checksums[1]).copy, nullptr);    // cold: evicted
  EXPECT_FALSE(std::filesystem::exists(dir_ / "cache/f1"));       // and its file is gone
}

TEST_F(CacheTest, EvictsAheadOfNeedOnceNearlyFull) {
  const std::uint64_t copy = CopyBytes(4096);
  auto cache = OpenCache({.max_bytes = 20 * copy, .max_object = 8192, .policy = "fifo"});
  for (int i = 0; i < 19; ++i) {
    ASSERT_TRUE(Fill(*cache, "f" + std::to_string(i), PutData("f" + std::to_string(i), 4096)).ok());
  }
  EXPECT_EQ(cache->Stats().evictions, 0u);  // 19 of 20 is 95%, not past it
  ASSERT_TRUE(Fill(*cache, "f19", PutData("f19", 4096)).ok());
  // Full: the fill that got there trimmed the cache to 90%.
  CacheStats stats = cache->Stats();
  EXPECT_EQ(stats.files_cached, 18u);
  EXPECT_EQ(stats.evictions, 2u);
  // So the next fill needs no eviction of its own.
  ASSERT_TRUE(Fill(*cache, "g", PutData("g", 4096)).ok());
  EXPECT_EQ(cache->Stats().evictions, 2u);
}

TEST_F(CacheTest, FilesLargerThanMaxObjectBypass) {
  auto cache = OpenCache({.max_bytes = 1 << 20, .max_object = 4096});
  Checksum big = PutData("big", 5000);
  ASSERT_TRUE(Fill(*cache, "big", big).ok());
  EXPECT_EQ(cache->Lookup(Name("big"), big).copy, nullptr);
  EXPECT_EQ(cache->Stats().bypassed, 1u);
  EXPECT_EQ(OpenCache({.max_bytes = 1 << 20})->max_object(), (1u << 20) / 8);  // default 1/8
}

TEST_F(CacheTest, ZeroBytesMeansNoCaching) {
  auto cache = OpenCache({.max_bytes = 0});
  Checksum checksum = PutData("f", 10);
  ASSERT_TRUE(Fill(*cache, "f", checksum).ok());
  EXPECT_EQ(cache->Lookup(Name("f"), checksum).copy, nullptr);
}

TEST_F(CacheTest, AnEvictedFileStaysReadableForItsReader) {
  auto cache = OpenCache({.max_bytes = 2 * CopyBytes(4096), .max_object = 8192, .policy = "fifo"});
  Checksum a = PutData("a", 4096, 'a');
  ASSERT_TRUE(Fill(*cache, "a", a).ok());
  auto reader = cache->Lookup(Name("a"), a).copy;
  ASSERT_NE(reader, nullptr);
  for (const char* n : {"b", "c"}) ASSERT_TRUE(Fill(*cache, n, PutData(n, 4096)).ok());
  EXPECT_EQ(cache->Lookup(Name("a"), a).copy, nullptr);  // evicted...
  std::string bytes(4096, '\0');
  auto got = reader->ReadAt(0, {bytes.data(), bytes.size()});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(bytes, std::string(4096, 'a'));  // ...yet its reader reads every byte
}

TEST_F(CacheTest, InvalidateDropsTheCopyAndAStaleChecksumNeverHits) {
  auto cache = OpenCache({});
  Checksum v1 = PutData("f", 100, '1');
  ASSERT_TRUE(Fill(*cache, "f", v1).ok());
  Checksum v2 = PutData("f", 100, '2');
  EXPECT_EQ(cache->Lookup(Name("f"), v2).copy, nullptr);  // the copy is of v1
  cache->Invalidate(Name("f"));
  EXPECT_EQ(cache->Lookup(Name("f"), v1).copy, nullptr);
  EXPECT_EQ(cache->Stats().files_cached, 0u);
  ASSERT_TRUE(Fill(*cache, "f", v2).ok());
  EXPECT_NE(cache->Lookup(Name("f"), v2).copy, nullptr);
}

TEST_F(CacheTest, RestartIndexesWhatTheFolderHoldsAndShrinksToANewLimit) {
  std::vector<Checksum> checksums;
  {
    auto cache = OpenCache({.max_bytes = 1 << 20});
    for (int i = 0; i < 8; ++i) {
      checksums.push_back(PutData("f" + std::to_string(i), 4096));
      ASSERT_TRUE(Fill(*cache, "f" + std::to_string(i), checksums.back()).ok());
    }
  }
  ferry::testing::WriteFile(dir_ / "cache/stray", "no checksum: unverifiable");
  ferry::testing::WriteFile(dir_ / "cache/.ferry/tmp/put-0123", "an interrupted fill");
  const std::uint64_t limit = 4 * CopyBytes(4096);
  auto cache = OpenCache({.max_bytes = limit, .max_object = 4096});
  CacheStats stats = cache->Stats();
  EXPECT_EQ(stats.files_cached, 4u);
  EXPECT_LE(stats.bytes_cached, limit);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "cache/stray"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "cache/.ferry/tmp/put-0123"));
  int hits = 0;
  for (int i = 0; i < 8; ++i) {
    hits += cache->Lookup(Name("f" + std::to_string(i)), checksums[i]).copy != nullptr ? 1 : 0;
  }
  EXPECT_EQ(hits, 4);
}

TEST(FillProgress, WakesFollowersAsItGrowsAndWhenItEnds) {
  FillProgress progress;
  int woken = 0;
  progress.OnProgress(0, [&] { ++woken; });
  progress.OnProgress(50, [&] { ++woken; });
  EXPECT_EQ(woken, 0);
  progress.Advance(10);  // past 0, not past 50
  EXPECT_EQ(woken, 1);
  progress.OnProgress(5, [&] { ++woken; });  // already past: at once
  EXPECT_EQ(woken, 2);
  progress.Finish(Status::Internal("disk on fire"));  // wakes the rest, whatever they wait for
  EXPECT_EQ(woken, 3);
  EXPECT_TRUE(progress.state().done);
  EXPECT_EQ(progress.state().status.code(), Code::kInternal);
  progress.OnProgress(99, [&] { ++woken; });  // done: at once
  EXPECT_EQ(woken, 4);
}

TEST_F(CacheTest, AFailedFillWakesItsFollowersWithTheErrorAndReleasesItsRoom) {
  auto cache = OpenCache({.max_bytes = 1 << 20});
  PutData("f", 10000);
  Checksum wrong = PutData("other", 10000, 'y');  // the bytes of "f" will not match this
  auto pending = cache->BeginFill(Name("f"), 10000, wrong);
  ASSERT_NE(pending, nullptr);
  std::shared_ptr<FillProgress> progress = pending->progress;
  EXPECT_EQ(cache->Lookup(Name("f"), wrong).filling, progress);  // a second GET would follow it
  bool woken = false;
  progress->OnProgress(20000, [&] { woken = true; });  // waits for more than the file holds
  auto source = data_->OpenRead(Name("f"));
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(cache->RunFill(std::move(pending), **source).code(), Code::kConflict);
  EXPECT_TRUE(woken);
  EXPECT_EQ(progress->state().status.code(), Code::kConflict);
  CacheStats stats = cache->Stats();
  EXPECT_EQ(stats.fills_in_flight, 0u);
  EXPECT_EQ(stats.files_cached, 0u);
  EXPECT_EQ(cache->Lookup(Name("f"), wrong).filling, nullptr);
  EXPECT_EQ(FolderBytes(), 0u);  // no copy, no temporary file left
}

TEST_F(CacheTest, ACleanStopKeepsRecencyAndNeedsNoScan) {
  std::filesystem::path state = dir_ / "cache/.ferry";  // where ferryd keeps it
  std::vector<Checksum> checksums;
  const std::uint64_t copy = CopyBytes(4096);
  {
    auto cache = OpenCache({.max_bytes = 1 << 20, .max_object = 8192, .policy = "lru",
                            .state_dir = state});
    for (int i = 0; i < 8; ++i) {
      checksums.push_back(PutData("f" + std::to_string(i), 4096));
      ASSERT_TRUE(Fill(*cache, "f" + std::to_string(i), checksums.back()).ok());
    }
    for (int i : {5, 1, 3}) {
      ASSERT_NE(cache->Lookup(Name("f" + std::to_string(i)), checksums[i]).copy, nullptr);
    }
    ASSERT_TRUE(cache->SaveIndex().ok());
  }
  // A copy changed behind the cache's back is dropped, whatever the index says.
  ferry::testing::WriteFile(dir_ / "cache/f7", "not the copy any more");
  // Reopened with room for three: LRU keeps the three most recently used, 5, 1 and 3.
  auto cache = OpenCache({.max_bytes = 3 * copy, .max_object = 8192, .policy = "lru",
                          .state_dir = state});
  EXPECT_EQ(cache->Stats().files_cached, 3u);
  for (int i = 0; i < 8; ++i) {
    bool expected = i == 5 || i == 1 || i == 3;
    EXPECT_EQ(cache->Lookup(Name("f" + std::to_string(i)), checksums[i]).copy != nullptr,
              expected)
        << i;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "cache/f7"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "cache/f0"));  // evicted at start: gone from disk
  EXPECT_EQ(std::filesystem::file_size(state / "journal"), 0u);  // folded into the snapshot
}

TEST_F(CacheTest, AfterACrashTheJournalKnowsEveryCopyWithoutAScan) {
  std::filesystem::path state = dir_ / "cache/.ferry";
  std::vector<Checksum> checksums;
  {
    auto cache = OpenCache({.max_bytes = 1 << 20, .max_object = 8192, .state_dir = state});
    for (int i = 0; i < 4; ++i) {
      checksums.push_back(PutData("f" + std::to_string(i), 4096));
      ASSERT_TRUE(Fill(*cache, "f" + std::to_string(i), checksums.back()).ok());
    }
    cache->Invalidate(Name("f2"));
    // No SaveIndex: as after kill -9, only the journal says what happened since the start.
  }
  std::string journal = ferry::testing::ReadFile(state / "journal");
  EXPECT_NE(journal.find("A xxh128:"), std::string::npos) << journal;
  EXPECT_NE(journal.find("E f2"), std::string::npos) << journal;
  auto cache = OpenCache({.max_bytes = 1 << 20, .max_object = 8192, .state_dir = state});
  EXPECT_EQ(cache->Stats().files_cached, 3u);
  for (int i : {0, 1, 3}) {
    EXPECT_NE(cache->Lookup(Name("f" + std::to_string(i)), checksums[i]).copy, nullptr) << i;
  }
  EXPECT_EQ(cache->Lookup(Name("f2"), checksums[2]).copy, nullptr);
}

TEST_F(CacheTest, UnknownPolicyIsRefused) {
  auto cache = Cache::Open(std::move(*store::OpenLocalStore({dir_ / "cache", false})),
                           {.policy = "random"});
  EXPECT_EQ(cache.status().code(), Code::kBadRequest);
}

}  // namespace
}  // namespace ferry::cache

namespace ferry::cache {
namespace {

// Eight threads hammer a cache that holds about six of twenty files: fills, lookups (reading
// every byte of every hit), invalidations and rewrites of the data, all at once. Run under the
// tsan preset in CI. Every byte served must be the version its checksum names.
TEST_F(CacheTest, ManyThreadsOnATinyCacheServeOnlyExactBytes) {
  constexpr int kFiles = 20, kThreads = 8, kRounds = 300;
  const std::uint64_t limit = 6 * CopyBytes(8192);
  auto cache = OpenCache({.max_bytes = limit, .max_object = 16384});
  // Versions of each file: the byte pattern depends on (file, version).
  auto bytes_of = [](int file, int version) {
    return std::string(8192, static_cast<char>('a' + (file * 7 + version) % 26));
  };
  std::vector<std::mutex> file_locks(kFiles);
  std::vector<int> versions(kFiles, 0);
  std::vector<Checksum> checksums(kFiles);
  for (int f = 0; f < kFiles; ++f) {
    checksums[f] = PutData("h" + std::to_string(f), 8192, bytes_of(f, 0)[0]);
  }
  std::atomic<int> bad{0}, hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      for (int round = 0; round < kRounds; ++round) {
        int f = static_cast<int>(random() % kFiles);
        ObjectName name = Name("h" + std::to_string(f));
        int action = static_cast<int>(random() % 10);
        if (action == 0) {  // a PUT: new data, then the copy is dropped
          std::lock_guard lock(file_locks[f]);
          ++versions[f];
          checksums[f] = PutData(name.str(), 8192, bytes_of(f, versions[f])[0]);
          cache->Invalidate(name);
          continue;
        }
        Checksum checksum;
        std::string expected;
        std::unique_ptr<store::ReadFile> source;
        {
          std::lock_guard lock(file_locks[f]);
          checksum = checksums[f];
          expected = bytes_of(f, versions[f]);
          source = std::move(*data_->OpenRead(name));
        }
        CacheLookup found = cache->Lookup(name, checksum);
        if (found.copy) {
          std::string got(8192, '\0');
          auto read = found.copy->ReadAt(0, {got.data(), got.size()});
          if (!read.ok() || got != expected) bad.fetch_add(1);
          hits.fetch_add(1);
        } else if (!found.filling) {
          (void)cache->Fill(name, *source, checksum);  // a stale source fails its checksum
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(hits.load(), 0);
  CacheStats stats = cache->Stats();
  EXPECT_LE(stats.bytes_cached, limit);
  EXPECT_EQ(stats.fills_in_flight, 0u);
  EXPECT_GT(stats.evictions, 0u);
}

}  // namespace
}  // namespace ferry::cache
