#include "gateway/adapters/chunk_sender.hpp"

#include "common/kafka_owned.hpp"
#include "schema/upload_headers.hpp"

namespace loraplane::gateway::adapters {

struct ChunkSender::State {
  explicit State(asio::any_io_executor ex) : executor(ex), wakeup(ex) {}
  asio::any_io_executor executor;
  asio::steady_timer wakeup;
  std::size_t in_flight = 0;
  std::uint32_t sent = 0;
  std::optional<Error> error;
  schema::ChunkSpan landed;
};

ChunkSender::ChunkSender(kafka::Producer& producer, std::string upload_id,
                         asio::any_io_executor executor, std::size_t max_in_flight,
                         std::string request_id)
    : producer_(producer), upload_id_(std::move(upload_id)), request_id_(std::move(request_id)),
      max_in_flight_(max_in_flight),
      state_(std::make_shared<State>(executor)) {}

awaitable<void> ChunkSender::wait_until(std::size_t max_in_flight) {
  while (state_->in_flight > max_in_flight) {
    state_->wakeup.expires_after(std::chrono::seconds(60));
    co_await state_->wakeup.async_wait(use_nothrow_awaitable);
  }
}

awaitable<Status> ChunkSender::send(std::string chunk, bool last) {
  co_await wait_until(max_in_flight_ - 1);
  if (state_->error) co_return *state_->error;
  schema::UploadChunkHeader header;
  header.upload_id = upload_id_;
  header.index = state_->sent;
  header.last = last;
  if (last) header.count = state_->sent + 1;
  ++state_->in_flight;
  ++state_->sent;
  auto state = state_;
  auto headers = schema::to_headers(header, request_id_);
  // Handed over, not copied: librdkafka sends the chunk from this buffer.
  kafka::produce_owned(
      producer_, kafka::kUploads, upload_id_, std::move(chunk), std::move(headers),
      [state](Result<kafka::Delivered> delivered) {
        asio::post(state->executor, [state, delivered = std::move(delivered)] {
          --state->in_flight;
          if (!delivered) {
            if (!state->error) state->error = delivered.error();
          } else {
            state->landed.add(delivered.value());
          }
          state->wakeup.cancel();
        });
      });
  co_return Status{};
}

awaitable<Status> ChunkSender::wait_all() {
  co_await wait_until(0);
  if (state_->error) co_return *state_->error;
  co_return Status{};
}

std::uint32_t ChunkSender::sent() const { return state_->sent; }
std::int32_t ChunkSender::partition() const { return state_->landed.partition; }
std::int64_t ChunkSender::first_offset() const { return state_->landed.first_offset; }
std::int64_t ChunkSender::last_offset() const { return state_->landed.last_offset; }

}  // namespace loraplane::gateway::adapters
