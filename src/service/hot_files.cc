#include "service/hot_files.h"

#include <algorithm>
#include <iterator>

namespace ferry::service {

namespace {
std::uint64_t Cost(const HotFile& file) {
  return file.bytes.size() + 2 * file.entry.name.size() + HotFiles::kEntryOverhead;
}
}  // namespace

HotFiles::HotFiles(std::uint64_t max_bytes, std::uint64_t max_object, Clock::duration validity)
    : max_bytes_(max_bytes), max_object_(std::min(max_object, max_bytes)), validity_(validity) {}

std::shared_ptr<const HotFile> HotFiles::Find(std::string_view name, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto found = by_name_.find(name);
  if (found == by_name_.end()) return nullptr;
  Entries::iterator it = found->second;
  if (now - (*it)->loaded >= validity_) {
    EraseLocked(it);
    return nullptr;
  }
  entries_.splice(entries_.begin(), entries_, it);
  return *it;
}

std::uint64_t HotFiles::epoch() const {
  std::lock_guard lock(mutex_);
  return epoch_;
}

void HotFiles::Insert(std::shared_ptr<const HotFile> file, std::uint64_t epoch) {
  if (!Wants(file->bytes.size()) || Cost(*file) > max_bytes_) return;
  std::lock_guard lock(mutex_);
  if (epoch != epoch_) return;
  if (auto found = by_name_.find(file->entry.name); found != by_name_.end()) EraseLocked(found->second);
  std::uint64_t cost = Cost(*file);
  while (!entries_.empty() && bytes_ + cost > max_bytes_) EraseLocked(std::prev(entries_.end()));
  bytes_ += cost;
  entries_.push_front(std::move(file));
  by_name_.emplace(entries_.front()->entry.name, entries_.begin());
}

void HotFiles::Forget(std::string_view name) {
  std::lock_guard lock(mutex_);
  ++epoch_;
  if (auto found = by_name_.find(name); found != by_name_.end()) EraseLocked(found->second);
}

void HotFiles::EraseLocked(Entries::iterator it) {
  bytes_ -= Cost(**it);
  by_name_.erase((*it)->entry.name);
  entries_.erase(it);
}

std::uint64_t HotFiles::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

std::size_t HotFiles::count() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace ferry::service
