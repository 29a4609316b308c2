// The factories behind MakePolicy, one per policy file. Internal to src/cache.
#pragma once

#include <memory>

#include "cache/policy.h"

namespace ferry::cache {

std::unique_ptr<EvictionPolicy> MakeLru();
std::unique_ptr<EvictionPolicy> MakeFifo();
std::unique_ptr<EvictionPolicy> MakeLfu();
std::unique_ptr<EvictionPolicy> MakeSieve();
std::unique_ptr<EvictionPolicy> MakeS3Fifo(std::uint64_t capacity_bytes);
std::unique_ptr<EvictionPolicy> MakeWTinyLfu(std::uint64_t capacity_bytes);

}  // namespace ferry::cache
