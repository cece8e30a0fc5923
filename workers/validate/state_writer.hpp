// The validate worker's writes, made from the job consumer's thread: each one waits for the
// broker's acknowledgement (acks=all) before returning, so the handler commits the job only
// after its effects are durable. State records also go into the worker's own view at once.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/kafka.hpp"
#include "common/result.hpp"
#include "schema/types.hpp"
#include "workers/validate/adapter_view.hpp"

namespace loraplane::validate {

// Producer::produce, blocking until the delivery report (or `timeout`: Errc::unavailable).
Status produce_and_wait(kafka::Producer& producer, std::string_view topic, std::string_view key,
                        std::optional<std::string_view> value, std::chrono::milliseconds timeout,
                        std::vector<kafka::Header> headers = {});

class StateWriter {
 public:
  StateWriter(kafka::Producer& producer, AdapterView& view, std::chrono::milliseconds timeout)
      : producer_(producer), view_(view), timeout_(timeout) {}

  // Writes `state` to loraplane.adapters (key = adapter id) and puts it into the view.
  Status write(const schema::AdapterState& state);
  // Writes the adapter's tombstone and removes it from the view.
  Status tombstone(std::string_view adapter_id);
  // Publishes to loraplane.load-events (key = adapter id).
  Status publish(const schema::LoadEvent& event);
  kafka::Producer& producer() { return producer_; }
  // The request the job in hand came from: its id goes on every record written until the next
  // call (common/request_id.hpp). Empty: none.
  void set_request_id(std::string_view request_id) { request_id_ = request_id; }
  const std::string& request_id() const { return request_id_; }

 private:
  kafka::Producer& producer_;
  AdapterView& view_;
  std::chrono::milliseconds timeout_;
  std::string request_id_;
};

}  // namespace loraplane::validate
