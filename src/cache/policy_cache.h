// PolicyCache: a byte-bounded set of keys driven by an EvictionPolicy, with no bytes behind
// it. It is the loop ferry-sim replays traces through and the policy tests' harness: a miss
// admits the key if it fits in the whole cache, evicting until it does. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cache/key_list.h"
#include "cache/policy.h"

namespace ferry::cache {

class PolicyCache {
 public:
  PolicyCache(std::unique_ptr<EvictionPolicy> policy, std::uint64_t capacity)
      : policy_(std::move(policy)), capacity_(capacity) {}

  // True on a hit. REQUIRES: size > 0, and the same size for a key every time.
  bool Access(Key key, std::uint64_t size) {
    evicted_.clear();
    std::uint64_t& resident = size_of_[key];
    if (resident != 0) {
      policy_->OnHit(key);
      return true;
    }
    if (size > capacity_) return false;  // never fits: not admitted
    while (used_ + size > capacity_) {
      Key victim = policy_->EvictOne();
      std::uint64_t& victim_size = size_of_[victim];
      used_ -= victim_size;
      victim_size = 0;
      evicted_.push_back(victim);
    }
    size_of_[key] = size;  // not `resident`: evictions may have grown the table
    used_ += size;
    policy_->OnInsert(key, size);
    return false;
  }

  void Erase(Key key) {
    std::uint64_t& resident = size_of_[key];
    if (resident == 0) return;
    policy_->OnErase(key);
    used_ -= resident;
    resident = 0;
  }

  bool Contains(Key key) { return size_of_[key] != 0; }
  std::uint64_t used() const { return used_; }
  // The keys the last Access evicted, in the order they went.
  const std::vector<Key>& evicted() const { return evicted_; }

 private:
  std::unique_ptr<EvictionPolicy> policy_;
  std::uint64_t capacity_;
  std::uint64_t used_ = 0;
  KeyMap<std::uint64_t> size_of_;  // 0: not resident
  std::vector<Key> evicted_;
};

}  // namespace ferry::cache
