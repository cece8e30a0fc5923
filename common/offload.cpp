#include "common/offload.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <exception>
#include <mutex>

namespace loraplane {

namespace {

asio::thread_pool& file_pool() {
  static asio::thread_pool pool(2);
  return pool;
}

Status run_guarded(const std::function<Status()>& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return make_error(Errc::internal, e.what());
  }
}

// A named initiation (GCC 12 mishandles capturing lambdas that are coroutines; these are plain
// callbacks).
struct OffloadInitiation {
  template <class Handler>
  void operator()(Handler handler, std::function<Status()> fn) const {
    auto work = asio::prefer(asio::get_associated_executor(handler),
                             asio::execution::outstanding_work.tracked);
    asio::post(file_pool(), [work, fn = std::move(fn), h = std::move(handler)]() mutable {
      Status result = run_guarded(fn);
      asio::post(work, [h = std::move(h), r = std::move(result)]() mutable {
        std::move(h)(std::move(r));
      });
    });
  }
};

}  // namespace

awaitable<Status> offload(std::function<Status()> fn) {
  return asio::async_initiate<decltype(use_awaitable), void(Status)>(OffloadInitiation{},
                                                                     use_awaitable, std::move(fn));
}

struct Background::State {
  explicit State(asio::any_io_executor executor) : timer(std::move(executor)) {}
  asio::steady_timer timer;  // cancelled when the job's result has arrived
  bool busy = false;         // started and not yet waited for
  bool done = false;         // its result is in `result`
  Status result;
  // For the destructor: whether the job's function is still running on the pool.
  std::mutex mutex;
  std::condition_variable returned;
  bool running = false;
};

Background::Background(asio::any_io_executor executor)
    : state_(std::make_shared<State>(std::move(executor))) {}

Background::~Background() {
  std::unique_lock lock(state_->mutex);
  state_->returned.wait(lock, [this] { return !state_->running; });
}

void Background::start(std::function<Status()> fn) {
  auto& s = *state_;
  s.busy = true;
  s.done = false;
  {
    std::lock_guard lock(s.mutex);
    s.running = true;
  }
  auto work = asio::prefer(s.timer.get_executor(), asio::execution::outstanding_work.tracked);
  asio::post(file_pool(), [state = state_, work, fn = std::move(fn)]() mutable {
    Status result = run_guarded(fn);
    fn = nullptr;  // whatever it captured goes before the caller is told
    {
      std::lock_guard lock(state->mutex);
      state->running = false;
    }
    state->returned.notify_all();
    // The io thread holds the last reference to the state (and its timer) from here on.
    asio::post(work, [state = std::move(state), r = std::move(result)]() mutable {
      state->result = std::move(r);
      state->done = true;
      state->timer.cancel();
    });
  });
}

awaitable<Status> Background::wait() {
  auto state = state_;
  if (!state->busy) co_return Status{};
  while (!state->done) {
    state->timer.expires_at(asio::steady_timer::time_point::max());
    auto [ec] = co_await state->timer.async_wait(use_nothrow_awaitable);
    (void)ec;  // cancelled: the result has arrived (checked above)
  }
  state->busy = false;
  co_return std::move(state->result);
}

}  // namespace loraplane
