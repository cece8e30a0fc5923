// A set of suspended coroutines to wake together, on one io_context thread: the scheduler's
// waiting requests and the loads queued behind another load of the same name use it. Waking is
// a hint; waiters re-check their condition.
#pragma once

#include <list>

#include "common/asio.hpp"

namespace loraplane::sim_engine {

class WaitList {
 public:
  WaitList() = default;
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;

  // Suspends until notify_all(). The caller's frame owns the timer, so a destroyed coroutine
  // leaves nothing behind.
  awaitable<void> wait();
  void notify_all();
  std::size_t size() const { return timers_.size(); }

 private:
  std::list<asio::steady_timer*> timers_;
};

}  // namespace loraplane::sim_engine
