// S3-FIFO (Yang et al., SOSP 2023): three FIFO queues.
//   S, small (10% of the bytes): where new entries start. Most entries are requested once;
//      S lets them leave quickly without disturbing M.
//   M, main (the rest): entries that were hit while in S, or that come back soon after
//      leaving it. Eviction from M is lazy promotion: an entry with hits goes round again
//      with one hit less ("CLOCK with a 2-bit counter").
//   G, ghost: the keys (no bytes) recently evicted from S, as many as the cache holds entries
//      (the paper sizes G like M; measured on the shared traces, sizing it like the whole
//      cache closes 4-5 points more of the gap to OPT: docs/cache.md); a miss on a ghost key
//      goes straight to M.
// Hits only bump a counter capped at 3: no list surgery on the hit path.
#include <deque>

#include "cache/key_list.h"
#include "cache/policies.h"

namespace ferry::cache {
namespace {

constexpr std::uint8_t kMaxFrequency = 3;

class S3Fifo final : public EvictionPolicy {
 public:
  explicit S3Fifo(std::uint64_t capacity_bytes)
      : small_target_(std::max<std::uint64_t>(1, capacity_bytes / 10)) {}
  std::string_view name() const override { return "s3fifo"; }

  void OnHit(Key key) override {
    Entry& entry = entries_[key];
    if (entry.frequency < kMaxFrequency) ++entry.frequency;
  }

  void OnInsert(Key key, std::uint64_t size) override {
    Entry& entry = entries_[key];
    bool was_ghost = entry.ghost_stamp > ghosts_dropped_;
    entry = Entry{size, 0, 0, was_ghost};
    if (was_ghost) {
      main_.PushFront(key);
      main_bytes_ += size;
    } else {
      small_.PushFront(key);
      small_bytes_ += size;
    }
  }

  void OnErase(Key key) override {
    Entry& entry = entries_[key];
    if (entry.in_main) {
      main_.Unlink(key);
      main_bytes_ -= entry.size;
    } else {
      small_.Unlink(key);
      small_bytes_ -= entry.size;
    }
  }

  Key EvictOne() override {
    while (true) {
      if (!small_.empty() && (small_bytes_ >= small_target_ || main_.empty())) {
        Key key = small_.PopBack();
        Entry& entry = entries_[key];
        small_bytes_ -= entry.size;
        if (entry.frequency > 0) {  // hit while in S: it earned a place in M
          entry.frequency = 0;
          entry.in_main = true;
          main_.PushFront(key);
          main_bytes_ += entry.size;
          continue;
        }
        AddGhost(key);
        return key;
      }
      Key key = main_.PopBack();
      Entry& entry = entries_[key];
      if (entry.frequency > 0) {
        --entry.frequency;
        main_.PushFront(key);
        continue;
      }
      main_bytes_ -= entry.size;
      return key;
    }
  }

 private:
  struct Entry {
    std::uint64_t size = 0;
    std::uint64_t ghost_stamp = 0;  // > ghosts_dropped_: the key is in G
    std::uint8_t frequency = 0;
    bool in_main = false;
  };

  // G is a FIFO of keys with consecutive stamps; a key is in G while its newest stamp has not
  // been dropped off the end, so membership is one comparison and stale duplicates cost nothing.
  void AddGhost(Key key) {
    ghosts_.push_back(key);
    entries_[key].ghost_stamp = ghosts_dropped_ + ghosts_.size();
    std::size_t limit = std::max<std::size_t>(main_.size() + small_.size(), 16);
    while (ghosts_.size() > limit) {
      ghosts_.pop_front();
      ++ghosts_dropped_;
    }
  }

  std::uint64_t small_target_;
  Links links_;
  KeyList small_{links_};
  KeyList main_{links_};
  std::uint64_t small_bytes_ = 0;
  std::uint64_t main_bytes_ = 0;
  KeyMap<Entry> entries_;
  std::deque<Key> ghosts_;
  std::uint64_t ghosts_dropped_ = 0;
};

}  // namespace

std::unique_ptr<EvictionPolicy> MakeS3Fifo(std::uint64_t capacity_bytes) {
  return std::make_unique<S3Fifo>(capacity_bytes);
}

}  // namespace ferry::cache
