#include "cache/policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <random>
#include <string>

#include "cache/policy_cache.h"

namespace ferry::cache {
namespace {

constexpr Key A = 0, B = 1, C = 2, D = 3, E = 4;

// A cache of `capacity` unit-size entries under `policy`.
PolicyCache Make(std::string_view policy, std::uint64_t capacity) {
  auto made = MakePolicy(policy, {.capacity_bytes = capacity});
  EXPECT_NE(made, nullptr) << policy;
  return PolicyCache(std::move(made), capacity);
}

// Accesses `keys` in order; returns "h" or "m" per access, and what was evicted, e.g. "mmmh m(B)".
std::string Replay(PolicyCache& cache, std::initializer_list<Key> keys) {
  std::string out;
  for (Key key : keys) {
    bool hit = cache.Access(key, 1);
    if (!out.empty()) out += ' ';
    out += hit ? "h" : "m";
    for (Key victim : cache.evicted()) {
      if (!hit) out += std::string("(") + static_cast<char>('A' + victim) + ")";
    }
  }
  return out;
}

TEST(Lru, EvictsTheLeastRecentlyUsed) {
  PolicyCache cache = Make("lru", 3);
  EXPECT_EQ(Replay(cache, {A, B, C, A, D, B, A}), "m m m h m(B) m(C) h");
}

TEST(Fifo, EvictsTheOldestInsertionWhateverItsHits) {
  PolicyCache cache = Make("fifo", 3);
  EXPECT_EQ(Replay(cache, {A, B, C, A, D, A}), "m m m h m(A) m(B)");
}

TEST(Lfu, EvictsTheLeastFrequentAndAgesOldPopularity) {
  PolicyCache cache = Make("lfu", 2);
  // A reaches priority 3; B (1) goes first, then C (L+1 = 2); D enters at L+1 = 3, level with
  // A, and A, the less recently used of the two, goes: its old popularity has faded.
  EXPECT_EQ(Replay(cache, {A, A, A, B, C, D, E}), "m h h m m(B) m(C) m(A)");
}

TEST(Lfu, FrequentEntriesOutliveNewcomersWhileTheyAreFresh) {
  PolicyCache cache = Make("lfu", 3);
  // A and B reach 3; C (1) goes, L = 1; D enters at 2 and goes next, L = 2; A and B stay.
  EXPECT_EQ(Replay(cache, {A, A, A, B, B, B, C, D, E, A, B}), "m h h m h h m m(C) m(D) h h");
}

TEST(Sieve, HandSkipsVisitedEntriesOnce) {
  PolicyCache cache = Make("sieve", 3);
  // Queue (newest first) C B A; A was hit. The hand starts at the oldest, A: visited, cleared,
  // moves on to B, which goes. The hand then rests at C, which goes next although A is older.
  EXPECT_EQ(Replay(cache, {A, B, C, A, D, E, A}), "m m m h m(B) m(C) h");
}

TEST(S3Fifo, OneHitWondersLeaveFromTheSmallQueue) {
  PolicyCache cache = Make("s3fifo", 10);  // S holds 1 of 10
  for (Key k = 0; k < 10; ++k) cache.Access(k, 1);
  cache.Access(0, 1);  // key 0 is hit while in S
  // Full: eviction takes S's oldest. Key 0 was hit, so it moves to M; key 1 goes (to G).
  EXPECT_FALSE(cache.Access(10, 1));
  EXPECT_EQ(cache.evicted(), std::vector<Key>({1}));
  EXPECT_TRUE(cache.Contains(0));
  // Key 1 is a ghost: its next miss puts it straight into M.
  EXPECT_FALSE(cache.Access(1, 1));
  EXPECT_TRUE(cache.Contains(1));
}

// Hot keys hit three times, then a scan of 30 keys seen once through a cache of 20: LRU loses
// the hot set, the scan-resistant policies keep it (SIEVE's hand has not come round yet, LFU's
// newcomers start below the hot keys, S3-FIFO's scan stays in its small queue).
TEST(ScanResistance, HotSetSurvivesAScan) {
  for (std::string_view policy : {"lru", "s3fifo", "sieve", "lfu", "wtinylfu"}) {
    PolicyCache cache = Make(policy, 20);
    for (int round = 0; round < 3; ++round) {
      for (Key k = 0; k < 5; ++k) cache.Access(k, 1);
    }
    for (Key k = 100; k < 130; ++k) cache.Access(k, 1);
    int hot_hits = 0;
    for (Key k = 0; k < 5; ++k) hot_hits += cache.Access(k, 1) ? 1 : 0;
    EXPECT_EQ(hot_hits, policy == "lru" ? 0 : 5) << policy;
  }
}

// S3-FIFO keeps the hot set through a scan of any length: the scan never leaves S.
TEST(S3Fifo, HotSetSurvivesALongScan) {
  PolicyCache cache = Make("s3fifo", 20);
  for (int round = 0; round < 2; ++round) {
    for (Key k = 0; k < 5; ++k) cache.Access(k, 1);
  }
  for (Key k = 100; k < 10100; ++k) cache.Access(k, 1);
  for (Key k = 0; k < 5; ++k) EXPECT_TRUE(cache.Access(k, 1)) << k;
}

TEST(WTinyLfu, AdmissionKeepsFrequentKeysOutOfReachOfOneHitWonders) {
  PolicyCache cache = Make("wtinylfu", 100);  // window 1, main 99
  for (int round = 0; round < 4; ++round) {
    for (Key k = 0; k < 99; ++k) cache.Access(k, 1);
  }
  // A stream of keys seen once: each leaves the window by losing its duel against main's
  // victim, which the sketch has seen four times.
  for (Key k = 1000; k < 1500; ++k) cache.Access(k, 1);
  int hits = 0;
  for (Key k = 0; k < 99; ++k) hits += cache.Access(k, 1) ? 1 : 0;
  EXPECT_EQ(hits, 99);
  // A newcomer requested often enough wins its duel and is admitted.
  for (int i = 0; i < 8; ++i) cache.Access(2000, 1);
  for (Key k = 3000; k < 3005; ++k) cache.Access(k, 1);
  EXPECT_TRUE(cache.Contains(2000));
}

// A reference LRU/FIFO in the obvious O(n) way, byte-bounded, for random comparison.
class ReferenceQueue {
 public:
  ReferenceQueue(bool lru, std::uint64_t capacity) : lru_(lru), capacity_(capacity) {}
  bool Access(Key key, std::uint64_t size) {
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](auto& e) { return e.first == key; });
    if (it != entries_.end()) {
      if (lru_) entries_.splice(entries_.begin(), entries_, it);
      return true;
    }
    if (size > capacity_) return false;
    while (used_ + size > capacity_) {
      used_ -= entries_.back().second;
      entries_.pop_back();
    }
    entries_.emplace_front(key, size);
    used_ += size;
    return false;
  }

 private:
  bool lru_;
  std::uint64_t capacity_;
  std::uint64_t used_ = 0;
  std::list<std::pair<Key, std::uint64_t>> entries_;
};

TEST(Policies, LruAndFifoMatchAReferenceOnRandomVariableSizes) {
  std::mt19937 random(7);
  for (bool lru : {true, false}) {
    PolicyCache cache = Make(lru ? "lru" : "fifo", 1000);
    ReferenceQueue reference(lru, 1000);
    for (int i = 0; i < 20000; ++i) {
      Key key = static_cast<Key>(random() % 200);
      std::uint64_t size = 1 + (key * 37) % 150;  // a key always has the same size
      ASSERT_EQ(cache.Access(key, size), reference.Access(key, size)) << "step " << i;
      ASSERT_LE(cache.used(), 1000u);
    }
  }
}

TEST(Policies, EveryPolicyStaysConsistentUnderInsertsHitsAndErases) {
  for (std::string_view policy : PolicyNames()) {
    std::mt19937 random(11);
    PolicyCache cache = Make(policy, 5000);
    std::vector<bool> resident(500, false);
    for (int i = 0; i < 50000; ++i) {
      Key key = static_cast<Key>(random() % 500);
      std::uint64_t size = 1 + (key * 53) % 400;
      if (random() % 10 == 0) {
        cache.Erase(key);
        resident[key] = false;
        continue;
      }
      bool hit = cache.Access(key, size);
      ASSERT_EQ(hit, static_cast<bool>(resident[key])) << policy << " step " << i;
      for (Key victim : cache.evicted()) {
        ASSERT_TRUE(resident[victim]) << policy << " evicted a key it did not hold";
        resident[victim] = false;
      }
      resident[key] = true;
      ASSERT_LE(cache.used(), 5000u) << policy;
    }
  }
}

TEST(Policies, UnknownNameIsRefused) { EXPECT_EQ(MakePolicy("clock-pro", {}), nullptr); }

}  // namespace
}  // namespace ferry::cache
