// Window-TinyLFU (Einziger, Friedman, Manes, "TinyLFU", ACM ToS 2017; Caffeine's policy).
//   window (1% of the bytes, LRU): every new entry starts here, so a burst of new keys is
//      absorbed without touching the main cache;
//   main (SLRU: probation, then protected at 80% of main): entries admitted from the window;
//   a frequency sketch (Count-Min, 4 rows of saturating 4-bit-range counters, all halved
//      every 10 x width increments so old popularity fades) counts every request, resident
//      or not, over a long history at a few bits per key.
// When the window overflows, its oldest entry and main's next victim duel: the one the sketch
// has seen more often stays. That admission filter is what makes the policy resistant to
// scans and one-hit wonders while still adopting newly popular keys quickly.
#include <array>
#include <vector>

#include "cache/key_list.h"
#include "cache/policies.h"

namespace ferry::cache {
namespace {

// Count-Min sketch over dense keys; grows (and forgets) as the number of resident keys grows.
class FrequencySketch {
 public:
  void EnsureWidthFor(std::size_t entries) {
    if (entries * 2 <= counters_.size() / kRows) return;
    std::size_t width = 1024;
    while (width < entries * 2) width *= 2;
    counters_.assign(width * kRows, 0);
    mask_ = width - 1;
    additions_ = 0;
  }

  std::uint8_t Estimate(Key key) const {
    std::uint8_t lowest = kMaxCount;
    for (std::size_t row = 0; row < kRows; ++row) {
      lowest = std::min(lowest, counters_[Index(key, row)]);
    }
    return lowest;
  }

  void Increment(Key key) {
    for (std::size_t row = 0; row < kRows; ++row) {
      std::uint8_t& counter = counters_[Index(key, row)];
      if (counter < kMaxCount) ++counter;
    }
    if (++additions_ >= 10 * (mask_ + 1)) {  // the reset that ages the whole history
      for (std::uint8_t& counter : counters_) counter /= 2;
      additions_ /= 2;
    }
  }

 private:
  static constexpr std::size_t kRows = 4;
  static constexpr std::uint8_t kMaxCount = 15;

  std::size_t Index(Key key, std::size_t row) const {
    static constexpr std::array<std::uint64_t, kRows> kSeeds = {
        0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull,
        0xD6E8FEB86659FD93ull};
    std::uint64_t x = (static_cast<std::uint64_t>(key) + 1) * kSeeds[row];
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return row * (mask_ + 1) + (x & mask_);
  }

  std::vector<std::uint8_t> counters_;
  std::size_t mask_ = 0;
  std::uint64_t additions_ = 0;
};

enum class Segment : std::uint8_t { kWindow, kProbation, kProtected };

class WTinyLfu final : public EvictionPolicy {
 public:
  explicit WTinyLfu(std::uint64_t capacity_bytes)
      : window_target_(std::max<std::uint64_t>(1, capacity_bytes / 100)),
        main_target_(capacity_bytes - std::min(capacity_bytes, window_target_)),
        protected_target_(main_target_ * 8 / 10) {
    sketch_.EnsureWidthFor(1);
  }
  std::string_view name() const override { return "wtinylfu"; }

  void OnHit(Key key) override {
    sketch_.Increment(key);
    Entry& entry = entries_[key];
    switch (entry.segment) {
      case Segment::kWindow:
        window_.MoveToFront(key);
        break;
      case Segment::kProbation:  // a second hit in main: promote, demoting protected's oldest
        Move(key, entry, Segment::kProtected);
        while (bytes_[Index(Segment::kProtected)] > protected_target_ && protected_.size() > 1) {
          Key demoted = protected_.back();
          Move(demoted, entries_[demoted], Segment::kProbation);
        }
        break;
      case Segment::kProtected:
        protected_.MoveToFront(key);
        break;
    }
  }

  void OnInsert(Key key, std::uint64_t size) override {
    sketch_.EnsureWidthFor(++resident_);
    sketch_.Increment(key);
    entries_[key] = Entry{size, Segment::kWindow};
    window_.PushFront(key);
    bytes_[Index(Segment::kWindow)] += size;
    // While main has room (the cache is filling), the window's overflow moves in for free;
    // once it is full, overflow waits in the window for a duel in EvictOne.
    while (bytes_[Index(Segment::kWindow)] > window_target_) {
      Key oldest = window_.back();
      Entry& entry = entries_[oldest];
      if (MainBytes() + entry.size > main_target_) break;
      Move(oldest, entry, Segment::kProbation);
    }
  }

  void OnErase(Key key) override {
    Entry& entry = entries_[key];
    List(entry.segment).Unlink(key);
    bytes_[Index(entry.segment)] -= entry.size;
    --resident_;
  }

  Key EvictOne() override {
    --resident_;
    // Whenever the window is full, its oldest duels with main's victim for a place in main:
    // the entry about to be inserted will take the room.
    while (bytes_[Index(Segment::kWindow)] >= window_target_ && !window_.empty()) {
      Key candidate = window_.back();
      Key victim = !probation_.empty() ? probation_.back()
                   : !protected_.empty() ? protected_.back() : kNoKey;
      if (victim == kNoKey) {  // main is empty: the candidate moves in unopposed
        Move(candidate, entries_[candidate], Segment::kProbation);
        continue;
      }
      if (sketch_.Estimate(candidate) > sketch_.Estimate(victim)) {
        Move(candidate, entries_[candidate], Segment::kProbation);
        return Remove(victim);
      }
      return Remove(candidate);
    }
    if (!probation_.empty()) return Remove(probation_.back());
    if (!protected_.empty()) return Remove(protected_.back());
    return Remove(window_.back());
  }

 private:
  struct Entry {
    std::uint64_t size = 0;
    Segment segment = Segment::kWindow;
  };

  static std::size_t Index(Segment segment) { return static_cast<std::size_t>(segment); }
  std::uint64_t MainBytes() const {
    return bytes_[Index(Segment::kProbation)] + bytes_[Index(Segment::kProtected)];
  }
  KeyList& List(Segment segment) {
    return segment == Segment::kWindow ? window_
           : segment == Segment::kProbation ? probation_ : protected_;
  }
  void Move(Key key, Entry& entry, Segment to) {
    List(entry.segment).Unlink(key);
    bytes_[Index(entry.segment)] -= entry.size;
    entry.segment = to;
    List(to).PushFront(key);
    bytes_[Index(to)] += entry.size;
  }
  Key Remove(Key key) {
    Entry& entry = entries_[key];
    List(entry.segment).Unlink(key);
    bytes_[Index(entry.segment)] -= entry.size;
    return key;
  }

  std::uint64_t window_target_;
  std::uint64_t main_target_;
  std::uint64_t protected_target_;
  Links links_;
  KeyList window_{links_};
  KeyList probation_{links_};
  KeyList protected_{links_};
  std::array<std::uint64_t, 3> bytes_{};
  KeyMap<Entry> entries_;
  FrequencySketch sketch_;
  std::size_t resident_ = 0;
};

}  // namespace

std::unique_ptr<EvictionPolicy> MakeWTinyLfu(std::uint64_t capacity_bytes) {
  return std::make_unique<WTinyLfu>(capacity_bytes);
}

}  // namespace ferry::cache
