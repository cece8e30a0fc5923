#include "workers/sim_engine/wait_list.hpp"

namespace loraplane::sim_engine {

awaitable<void> WaitList::wait() {
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           asio::steady_timer::time_point::max());
  auto it = timers_.insert(timers_.end(), &timer);
  struct Erase {
    std::list<asio::steady_timer*>& list;
    std::list<asio::steady_timer*>::iterator it;
    ~Erase() { list.erase(it); }
  } erase{timers_, it};
  auto [ec] = co_await timer.async_wait(use_nothrow_awaitable);
  (void)ec;  // operation_aborted is the wake-up
}

void WaitList::notify_all() {
  for (auto* timer : timers_) timer->cancel();
}

}  // namespace loraplane::sim_engine
