// The awaitable forms of Producer::produce and produce_delivered. Delivery reports arrive on librdkafka's thread; the
// coroutine is resumed on its own executor, which is kept busy (outstanding work) until then so
// io_context::run() does not return with a delivery pending.
#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>

#include <type_traits>

#include "common/kafka.hpp"

namespace loraplane::kafka {
namespace {

// A named initiation object; the lambdas below are plain callbacks, never coroutines (GCC 12
// miscompiles capturing lambdas that are coroutines). Report is Status or Result<Delivered>.
template <class Report>
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
    auto resume = [shared, work](Report report) {
      asio::post(work, [shared, r = std::move(report)]() mutable {
        std::move (*shared)(std::move(r));
      });
    };
    if constexpr (std::is_same_v<Report, Status>) {
      producer->produce(topic, key, value, std::move(headers), std::move(resume));
    } else {
      producer->produce_delivered(topic, key, value, std::move(headers), std::move(resume));
    }
  }
};

}  // namespace

// The views are read when the returned awaitable is first resumed, which `co_await
// produce(...)` does within the same full-expression that keeps them alive.
awaitable<Status> produce(Producer& producer, std::string_view topic, std::string_view key,
                          std::optional<std::string_view> value, std::vector<Header> headers) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(Status)>(
      ProduceInitiation<Status>{&producer, topic, key, value}, asio::use_awaitable,
      std::move(headers));
}

awaitable<Result<Delivered>> produce_delivered(Producer& producer, std::string_view topic,
                                               std::string_view key,
                                               std::optional<std::string_view> value,
                                               std::vector<Header> headers) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(Result<Delivered>)>(
      ProduceInitiation<Result<Delivered>>{&producer, topic, key, value}, asio::use_awaitable,
      std::move(headers));
}

}  // namespace loraplane::kafka
