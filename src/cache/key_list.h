// KeyList: an intrusive doubly-linked list of keys, with links stored in a vector indexed by
// key, so pushing, unlinking and moving cost O(1) and allocate nothing once warm. A key is in
// at most one KeyList that shares a Links table.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cache/policy.h"

namespace ferry::cache {

inline constexpr Key kNoKey = UINT32_MAX;

struct Link {
  Key prev = kNoKey;  // towards the front (newest)
  Key next = kNoKey;  // towards the back (oldest)
};

// Per-key values of type T, grown on demand, defaulting to T{}.
template <typename T>
class KeyMap {
 public:
  T& operator[](Key key) {
    if (key >= values_.size()) values_.resize(std::max<std::size_t>(key + 1, values_.size() * 2));
    return values_[key];
  }

 private:
  std::vector<T> values_;
};

// Per-key links of the KeyLists that share them.
using Links = KeyMap<Link>;

class KeyList {
 public:
  explicit KeyList(Links& links) : links_(&links) {}
  bool empty() const { return front_ == kNoKey; }
  std::size_t size() const { return size_; }
  Key front() const { return front_; }
  Key back() const { return back_; }
  Key next(Key key) const { return (*links_)[key].next; }  // towards the back
  Key prev(Key key) const { return (*links_)[key].prev; }  // towards the front

  void PushFront(Key key) {
    Link& link = (*links_)[key];
    link = {kNoKey, front_};
    if (front_ != kNoKey) (*links_)[front_].prev = key;
    front_ = key;
    if (back_ == kNoKey) back_ = key;
    ++size_;
  }
  void Unlink(Key key) {
    Link link = (*links_)[key];
    if (link.prev != kNoKey) (*links_)[link.prev].next = link.next; else front_ = link.next;
    if (link.next != kNoKey) (*links_)[link.next].prev = link.prev; else back_ = link.prev;
    --size_;
  }
  Key PopBack() {
    Key key = back_;
    Unlink(key);
    return key;
  }
  void MoveToFront(Key key) {
    if (front_ == key) return;
    Unlink(key);
    PushFront(key);
  }

 private:
  Links* links_;  // a pointer, not a reference: lists stay movable
  Key front_ = kNoKey;
  Key back_ = kNoKey;
  std::size_t size_ = 0;
};

}  // namespace ferry::cache
