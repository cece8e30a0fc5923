// The awaitable form of Producer::produce. Delivery reports arrive on librdkafka's thread; the
// coroutine is resumed on its own executor, which is kept busy (outstanding work) until then so
// io_context::run() does not return with a delivery pending.
#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>

#include "common/kafka.hpp"

namespace loraplane::kafka {
namespace {

// A named initiation object; the lambdas below are plain callbacks, never coroutines (GCC 12
// miscompiles capturing lambdas that are coroutines).
struct ProduceInitiation {
  Producer* producer;
  std::string_view topic;
  std::string_view key;
  std::optional<std::string_view> value;

  template <class Handler>
  void operator()(Handler handler, std::vector<Header> headers) const {
    auto work = asio::prefer(asio::get_associated_executor(handler),
                             asio::execution::outstanding_work.tracked);
    auto shared = std::make_shared<Handler>(std::move(handler));
    producer->produce(topic, key, value, std::move(headers),
                      [shared, work](Status status) {
                        asio::post(work, [shared, s = std::move(status)]() mutable {
                          std::move (*shared)(std::move(s));
                        });
                      });
  }
};

}  // namespace

awaitable<Status> produce(Producer& producer, std::string_view topic, std::string_view key,
                          std::optional<std::string_view> value, std::vector<Header> headers) {
  // The views are read when the returned awaitable is first resumed, which `co_await
  // produce(...)` does within the same full-expression that keeps them alive.
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(Status)>(
      ProduceInitiation{&producer, topic, key, value}, asio::use_awaitable, std::move(headers));
}

}  // namespace loraplane::kafka
