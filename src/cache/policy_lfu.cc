// LFU with dynamic aging (LFU-DA, Arlitt et al. 2000), so old popularity fades: every entry
// has a priority; a hit adds 1; a new entry starts at L + 1, where L is the priority of the
// last entry evicted. Entries that were popular long ago are overtaken as L rises; plain LFU
// would keep them forever. Ties go to the least recently used.
//
// O(1) per operation: entries sit in buckets of equal priority, buckets in a list sorted by
// priority. A hit moves an entry to the bucket just after its own (priority + 1); a new entry
// goes to priority L + 1, and since no resident priority is below L (L was the minimum when it
// was evicted), that bucket is the first, the second, or a new first one.
#include <vector>

#include "cache/key_list.h"
#include "cache/policies.h"

namespace ferry::cache {
namespace {

using BucketId = std::uint32_t;
constexpr BucketId kNoBucket = UINT32_MAX;

class LfuDa final : public EvictionPolicy {
 public:
  std::string_view name() const override { return "lfu"; }

  void OnHit(Key key) override {
    BucketId from = bucket_of_[key];
    std::uint64_t priority = buckets_[from].priority + 1;
    BucketId next = buckets_[from].next;
    BucketId to = next != kNoBucket && buckets_[next].priority == priority
                      ? next
                      : NewBucketAfter(from, priority);
    Move(key, from, to);
  }

  void OnInsert(Key key, std::uint64_t) override {
    std::uint64_t priority = age_ + 1;
    BucketId to;
    if (first_ == kNoBucket || buckets_[first_].priority > priority) {
      to = NewBucketAfter(kNoBucket, priority);
    } else if (buckets_[first_].priority == priority) {
      to = first_;
    } else {  // the first bucket holds priority L; L + 1 is right after it
      BucketId second = buckets_[first_].next;
      to = second != kNoBucket && buckets_[second].priority == priority
               ? second
               : NewBucketAfter(first_, priority);
    }
    bucket_of_[key] = to;
    buckets_[to].keys.PushFront(key);
  }

  void OnErase(Key key) override {
    BucketId from = bucket_of_[key];
    buckets_[from].keys.Unlink(key);
    DropIfEmpty(from);
  }

  Key EvictOne() override {
    BucketId first = first_;
    age_ = buckets_[first].priority;
    Key key = buckets_[first].keys.PopBack();
    DropIfEmpty(first);
    return key;
  }

 private:
  struct Bucket {
    std::uint64_t priority = 0;
    KeyList keys;
    BucketId prev = kNoBucket;
    BucketId next = kNoBucket;
  };

  BucketId NewBucketAfter(BucketId after, std::uint64_t priority) {
    BucketId id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
      buckets_[id] = Bucket{priority, KeyList(links_), after, kNoBucket};
    } else {
      id = static_cast<BucketId>(buckets_.size());
      buckets_.push_back(Bucket{priority, KeyList(links_), after, kNoBucket});
    }
    BucketId next = after == kNoBucket ? first_ : buckets_[after].next;
    buckets_[id].next = next;
    if (next != kNoBucket) buckets_[next].prev = id;
    if (after == kNoBucket) first_ = id; else buckets_[after].next = id;
    return id;
  }

  void Move(Key key, BucketId from, BucketId to) {
    buckets_[from].keys.Unlink(key);
    buckets_[to].keys.PushFront(key);
    bucket_of_[key] = to;
    DropIfEmpty(from);
  }

  void DropIfEmpty(BucketId id) {
    Bucket& bucket = buckets_[id];
    if (!bucket.keys.empty()) return;
    if (bucket.prev != kNoBucket) buckets_[bucket.prev].next = bucket.next; else first_ = bucket.next;
    if (bucket.next != kNoBucket) buckets_[bucket.next].prev = bucket.prev;
    free_.push_back(id);
  }

  Links links_;
  std::vector<Bucket> buckets_;
  std::vector<BucketId> free_;
  BucketId first_ = kNoBucket;  // lowest priority
  KeyMap<BucketId> bucket_of_;
  std::uint64_t age_ = 0;  // L
};

}  // namespace

std::unique_ptr<EvictionPolicy> MakeLfu() { return std::make_unique<LfuDa>(); }

}  // namespace ferry::cache
