#include "common/offload.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <exception>

namespace loraplane {

namespace {

asio::thread_pool& file_pool() {
  static asio::thread_pool pool(2);
  return pool;
}

// A named initiation (GCC 12 mishandles capturing lambdas that are coroutines; these are plain
// callbacks).
struct OffloadInitiation {
  template <class Handler>
  void operator()(Handler handler, std::function<Status()> fn) const {
    auto work = asio::prefer(asio::get_associated_executor(handler),
                             asio::execution::outstanding_work.tracked);
    asio::post(file_pool(), [work, fn = std::move(fn), h = std::move(handler)]() mutable {
      Status result;
      try {
        result = fn();
      } catch (const std::exception& e) {
        result = make_error(Errc::internal, e.what());
      }
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

}  // namespace loraplane
