// Sends an upload's chunks to loraplane.uploads with a bounded number in flight, and records
// where they landed (one partition, since the key is the upload id) from the delivery reports.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/asio.hpp"
#include "common/kafka.hpp"

namespace loraplane::gateway::adapters {

class ChunkSender {
 public:
  // `request_id`: the upload request's, carried on every chunk (common/request_id.hpp).
  ChunkSender(kafka::Producer& producer, std::string upload_id, asio::any_io_executor executor,
              std::size_t max_in_flight, std::string request_id = {});
  // Waits for room in the window, then enqueues chunk `index`. Fails fast once any earlier
  // chunk failed.
  awaitable<Status> send(std::string chunk, bool last);
  // Waits until every enqueued chunk was acknowledged or failed.
  awaitable<Status> wait_all();

  std::uint32_t sent() const;
  std::int32_t partition() const;
  std::int64_t first_offset() const;
  std::int64_t last_offset() const;

 private:
  struct State;
  awaitable<void> wait_until(std::size_t max_in_flight);
  kafka::Producer& producer_;
  std::string upload_id_;
  std::string request_id_;
  std::size_t max_in_flight_;
  std::shared_ptr<State> state_;
};

}  // namespace loraplane::gateway::adapters
