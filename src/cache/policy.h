// Eviction policies: which cached file to drop when the cache is full.
//
// Pure code, no I/O and no clock: the server's cache and the simulator (ferry-sim) drive the
// very same classes, so what the simulator measures is what the server does. Keys are dense
// ids (the caller maps names to small integers), so per-key state lives in vectors: O(1)
// work per access without hashing. Sizes are in bytes (the simulator's --unit-size passes 1).
// Not thread-safe: the owner serialises calls.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace ferry::cache {

using Key = std::uint32_t;

class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;
  virtual std::string_view name() const = 0;

  // A request for `key`, which is resident.
  virtual void OnHit(Key key) = 0;
  // `key` of `size` bytes was admitted after a miss. REQUIRES: not resident.
  virtual void OnInsert(Key key, std::uint64_t size) = 0;
  // `key` left the cache other than through EvictOne (replaced by a PUT, deleted, its fill
  // failed). REQUIRES: resident.
  virtual void OnErase(Key key) = 0;
  // Chooses a resident key, forgets it and returns it; the caller frees its bytes.
  // REQUIRES: something is resident.
  virtual Key EvictOne() = 0;
};

struct PolicyOptions {
  std::uint64_t capacity_bytes = 0;  // the cache's size; queue splits are fractions of it
};

// "lru", "fifo", "lfu" (LFU with dynamic aging), "s3fifo", "sieve", "wtinylfu"; nullptr for
// other names.
std::unique_ptr<EvictionPolicy> MakePolicy(std::string_view name, const PolicyOptions& options);
// The names MakePolicy knows, the server's default first.
std::span<const std::string_view> PolicyNames();

}  // namespace ferry::cache
