#include "workers/validate/state_writer.hpp"

#include <future>
#include <memory>

#include "common/request_id.hpp"
#include "schema/json.hpp"

namespace loraplane::validate {

Status produce_and_wait(kafka::Producer& producer, std::string_view topic, std::string_view key,
                        std::optional<std::string_view> value, std::chrono::milliseconds timeout,
                        std::vector<kafka::Header> headers) {
  // Shared: a report that arrives after we gave up must still find a live promise.
  auto done = std::make_shared<std::promise<Status>>();
  auto future = done->get_future();
  producer.produce(topic, key, value, std::move(headers),
                   [done](const Status& status) { done->set_value(status); });
  if (future.wait_for(timeout) != std::future_status::ready)
    return make_error(Errc::unavailable, "no delivery report from " + std::string(topic) +
                                             " within " + std::to_string(timeout.count()) + " ms");
  return future.get();
}

Status StateWriter::write(const schema::AdapterState& state) {
  auto st = produce_and_wait(producer_, kafka::kAdapters, state.adapter.id, schema::to_json(state),
                             timeout_, kafka::request_id_headers(request_id_));
  if (st) view_.put(state);
  return st;
}

Status StateWriter::tombstone(std::string_view adapter_id) {
  auto st = produce_and_wait(producer_, kafka::kAdapters, adapter_id, std::nullopt, timeout_,
                             kafka::request_id_headers(request_id_));
  if (st) view_.erase(adapter_id);
  return st;
}

Status StateWriter::publish(const schema::LoadEvent& event) {
  return produce_and_wait(producer_, kafka::kLoadEvents, event.adapter_id, schema::to_json(event),
                          timeout_, kafka::request_id_headers(request_id_));
}

}  // namespace loraplane::validate
