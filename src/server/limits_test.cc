#include "server/limits.h"

#include <gtest/gtest.h>

#include <vector>

namespace ferry::server {
namespace {

TEST(ConnectionLimiter, BoundsEachAddressAndTheTotal) {
  ConnectionLimiter limiter(5, 2);
  std::vector<ConnectionLimiter::Ticket> held;
  held.push_back(*limiter.TryAdmit("10.0.0.1"));
  held.push_back(*limiter.TryAdmit("10.0.0.1"));
  EXPECT_FALSE(limiter.TryAdmit("10.0.0.1"));  // its third
  held.push_back(*limiter.TryAdmit("10.0.0.2"));
  held.push_back(*limiter.TryAdmit("10.0.0.3"));
  held.push_back(*limiter.TryAdmit("10.0.0.4"));
  EXPECT_FALSE(limiter.TryAdmit("10.0.0.5"));  // the sixth in all
  EXPECT_EQ(limiter.open(), 5u);
  held.erase(held.begin());  // one of 10.0.0.1's ends
  EXPECT_EQ(limiter.open(), 4u);
  EXPECT_TRUE(limiter.TryAdmit("10.0.0.1"));  // admitted, and released at once
  EXPECT_EQ(limiter.open(), 4u);
}

TEST(ConnectionLimiter, ZeroPerAddressMeansOnlyTheTotalCounts) {
  ConnectionLimiter limiter(3, 0);
  std::vector<ConnectionLimiter::Ticket> held;
  for (int i = 0; i < 3; ++i) held.push_back(*limiter.TryAdmit("127.0.0.1"));
  EXPECT_FALSE(limiter.TryAdmit("127.0.0.1"));
  held.clear();
  EXPECT_EQ(limiter.open(), 0u);
}

TEST(ConnectionLimiter, AMovedTicketReleasesOnce) {
  ConnectionLimiter limiter(1, 1);
  {
    auto ticket = limiter.TryAdmit("a");
    ASSERT_TRUE(ticket);
    ConnectionLimiter::Ticket moved(std::move(*ticket));
    ticket.reset();
    EXPECT_EQ(limiter.open(), 1u);
  }
  EXPECT_EQ(limiter.open(), 0u);
}

}  // namespace
}  // namespace ferry::server
