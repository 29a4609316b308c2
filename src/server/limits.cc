#include "server/limits.h"

namespace ferry::server {

std::optional<ConnectionLimiter::Ticket> ConnectionLimiter::TryAdmit(const std::string& address) {
  std::lock_guard lock(mutex_);
  if (total_ >= max_total_) return std::nullopt;
  if (max_per_address_ > 0) {
    auto found = per_address_.find(address);
    if (found != per_address_.end() && found->second >= max_per_address_) return std::nullopt;
  }
  ++total_;
  ++per_address_[address];
  return Ticket(this, address);
}

unsigned ConnectionLimiter::open() const {
  std::lock_guard lock(mutex_);
  return total_;
}

void ConnectionLimiter::SetLimits(unsigned max_total, unsigned max_per_address) {
  std::lock_guard lock(mutex_);
  max_total_ = max_total;
  max_per_address_ = max_per_address;
}

void ConnectionLimiter::Release(const std::string& address) {
  std::lock_guard lock(mutex_);
  --total_;
  auto found = per_address_.find(address);
  if (found != per_address_.end() && --found->second == 0) per_address_.erase(found);
}

}  // namespace ferry::server
