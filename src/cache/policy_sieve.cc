// SIEVE (Zhang et al., NSDI 2024): a FIFO queue with one "visited" bit per entry and a hand
// that walks from the oldest entry towards the newest. A hit only sets the bit (no list
// surgery, which is why it is cheap under concurrency). To evict, the hand clears set bits as
// it passes and stops at the first entry without one; new entries enter at the front, so
// one-hit wonders leave quickly while entries that were hit survive a full sweep.
#include "cache/key_list.h"
#include "cache/policies.h"

namespace ferry::cache {
namespace {

class Sieve final : public EvictionPolicy {
 public:
  std::string_view name() const override { return "sieve"; }
  void OnHit(Key key) override { visited_[key] = 1; }
  void OnInsert(Key key, std::uint64_t) override {
    visited_[key] = 0;
    list_.PushFront(key);
  }
  void OnErase(Key key) override {
    if (hand_ == key) hand_ = list_.prev(key);
    list_.Unlink(key);
  }
  Key EvictOne() override {
    Key candidate = hand_ != kNoKey ? hand_ : list_.back();
    while (visited_[candidate]) {
      visited_[candidate] = 0;
      candidate = list_.prev(candidate);
      if (candidate == kNoKey) candidate = list_.back();
    }
    hand_ = list_.prev(candidate);
    list_.Unlink(candidate);
    return candidate;
  }

 private:
  Links links_;
  KeyList list_{links_};
  KeyMap<std::uint8_t> visited_;  // not bool: vector<bool> has no references
  Key hand_ = kNoKey;  // next entry to examine; kNoKey: start again from the back
};

}  // namespace

std::unique_ptr<EvictionPolicy> MakeSieve() { return std::make_unique<Sieve>(); }

}  // namespace ferry::cache
