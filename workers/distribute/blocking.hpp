// Running blocking calls (RocksDB reads) off the I/O threads: a gate that counts calls in
// flight so the owner can wait for them before the database goes away, and an awaitable that
// runs a function on a thread pool and resumes the caller on its own executor.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <type_traits>

#include "common/asio.hpp"

namespace loraplane::distribute {

class BlockingGate {
 public:
  // False once closed: the caller must not start the call.
  bool enter() {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    ++in_flight_;
    return true;
  }
  void leave() {
    std::lock_guard lock(mu_);
    --in_flight_;
    cv_.notify_all();
  }
  // Refuses new calls and waits for the ones in flight.
  void close() {
    std::unique_lock lock(mu_);
    closed_ = true;
    cv_.wait(lock, [this] { return in_flight_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t in_flight_ = 0;
  bool closed_ = false;
};

namespace detail {

// A named initiation object (GCC 12 miscompiles capturing lambdas that are coroutines; the
// lambdas here are plain callbacks).
struct BlockingInitiation {
  asio::thread_pool* pool;
  BlockingGate* gate;

  template <class Handler, class Fn>
  void operator()(Handler handler, Fn fn) const {
    using Value = std::invoke_result_t<Fn&>;
    auto work = asio::prefer(asio::get_associated_executor(handler),
                             asio::execution::outstanding_work.tracked);
    if (!gate->enter()) {
      asio::post(work,
                 [h = std::move(handler)]() mutable { std::move(h)(std::optional<Value>{}); });
      return;
    }
    asio::post(*pool, [g = gate, work, fn = std::move(fn), h = std::move(handler)]() mutable {
      std::optional<Value> result;
      try {
        result.emplace(fn());
      } catch (...) {
        LogExceptions{"blocking call"}(std::current_exception());
      }
      g->leave();
      asio::post(work, [h = std::move(h), r = std::move(result)]() mutable {
        std::move(h)(std::move(r));
      });
    });
  }
};

}  // namespace detail

// Runs fn() on `pool` and resumes on the caller's executor with its value; nullopt when the
// gate is closed or fn threw (logged). Pass a named function object (std::move(f)): GCC 12
// destroys a temporary with a non-trivial destructor in a co_await expression twice, so `fn`
// is taken by reference and copied into the operation only here.
template <class Fn, class F = std::decay_t<Fn>>
awaitable<std::optional<std::invoke_result_t<F&>>> run_blocking(asio::thread_pool& pool,
                                                                BlockingGate& gate, Fn&& fn) {
  using Value = std::invoke_result_t<F&>;
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(std::optional<Value>)>(
      detail::BlockingInitiation{&pool, &gate}, asio::use_awaitable, F(std::forward<Fn>(fn)));
}

}  // namespace loraplane::distribute
