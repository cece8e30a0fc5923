// HTTP plumbing for the inference routes, which take over the connection (StreamHandler) so
// they can answer with Server-Sent Events: reading the bounded JSON body, and writing
// `text/event-stream` as chunked transfer encoding, one `data: <json>\n\n` event per chunk,
// ending with `data: [DONE]\n\n` as vLLM does.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/http.hpp"
#include "common/result.hpp"

namespace loraplane::sim_engine {

// Errc::limit_exceeded (answer 413) or Errc::io (client gone or too slow: nothing to answer).
awaitable<Result<std::string>> read_body(http::StreamContext& ctx, std::size_t max_bytes,
                                         std::chrono::seconds timeout);

class SseWriter {
 public:
  SseWriter(http::beast::tcp_stream& stream, std::string request_id,
            std::chrono::seconds write_timeout = std::chrono::seconds(30))
      : stream_(stream), request_id_(std::move(request_id)), timeout_(write_timeout) {}

  // Each returns false once a write failed (the client went away); later calls do nothing.
  awaitable<bool> begin();  // 200, text/event-stream, chunked, Connection: close
  awaitable<bool> event(std::string_view data);
  // `data: [DONE]`, the last chunk, then shuts the sending side down: the connection ends with
  // the stream, so the StreamHandler's returned Response is never seen by the client.
  awaitable<bool> finish();
  bool ok() const { return ok_; }

 private:
  awaitable<bool> write_chunk(std::string frame);

  http::beast::tcp_stream& stream_;
  std::string request_id_;
  std::chrono::seconds timeout_;
  bool ok_ = true;
};

}  // namespace loraplane::sim_engine
