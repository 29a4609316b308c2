// How many connections the server holds open, in all and per client address: a flood from one
// address (or many) gets 503 instead of the descriptors and memory other clients need.
// Asio-free so it tests without sockets.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace ferry::server {

class ConnectionLimiter {
 public:
  // 0 per address: no per-address limit.
  ConnectionLimiter(unsigned max_total, unsigned max_per_address)
      : max_total_(max_total), max_per_address_(max_per_address) {}

  // Holds one admitted connection's place; gives it back when destroyed.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept : limiter_(other.limiter_), address_(std::move(other.address_)) {
      other.limiter_ = nullptr;
    }
    Ticket& operator=(Ticket&& other) noexcept {
      if (this != &other) {
        Reset();
        limiter_ = std::exchange(other.limiter_, nullptr);
        address_ = std::move(other.address_);
      }
      return *this;
    }
    ~Ticket() { Reset(); }

   private:
    friend class ConnectionLimiter;
    void Reset() {
      if (limiter_ != nullptr) limiter_->Release(address_);
      limiter_ = nullptr;
    }
    Ticket(ConnectionLimiter* limiter, std::string address)
        : limiter_(limiter), address_(std::move(address)) {}
    ConnectionLimiter* limiter_;
    std::string address_;
  };

  // A ticket if one more connection from `address` fits; nullopt (refuse it) otherwise.
  // Thread-safe.
  std::optional<Ticket> TryAdmit(const std::string& address);
  unsigned open() const;
  // New limits (a reload): connections already admitted stay, even above them.
  void SetLimits(unsigned max_total, unsigned max_per_address);

 private:
  void Release(const std::string& address);

  mutable std::mutex mutex_;
  unsigned max_total_;        // GUARDED_BY(mutex_)
  unsigned max_per_address_;  // GUARDED_BY(mutex_)
  unsigned total_ = 0;
  std::unordered_map<std::string, unsigned> per_address_;  // only addresses with connections
};

}  // namespace ferry::server
