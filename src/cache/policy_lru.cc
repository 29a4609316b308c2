// LRU: evict the least recently used. FIFO: evict the oldest insertion, hits change nothing
// (kept as the baseline the traces' reference figures give, and to check the simulator).
#include "cache/key_list.h"
#include "cache/policies.h"

namespace ferry::cache {
namespace {

class Lru final : public EvictionPolicy {
 public:
  explicit Lru(bool move_on_hit) : move_on_hit_(move_on_hit) {}
  std::string_view name() const override { return move_on_hit_ ? "lru" : "fifo"; }
  void OnHit(Key key) override {
    if (move_on_hit_) list_.MoveToFront(key);
  }
  void OnInsert(Key key, std::uint64_t) override { list_.PushFront(key); }
  void OnErase(Key key) override { list_.Unlink(key); }
  Key EvictOne() override { return list_.PopBack(); }

 private:
  bool move_on_hit_;
  Links links_;
  KeyList list_{links_};
};

}  // namespace

std::unique_ptr<EvictionPolicy> MakeLru() { return std::make_unique<Lru>(true); }
std::unique_ptr<EvictionPolicy> MakeFifo() { return std::make_unique<Lru>(false); }

}  // namespace ferry::cache
