// HTTP plumbing for the inference routes, which answer with Server-Sent Events through the
// server's ResponseChannel: `text/event-stream` as chunked transfer encoding, one
// `data: <json>\n\n` event per chunk, ending with `data: [DONE]\n\n` as vLLM does. A stream that
// ends cleanly leaves the connection open for the next request (keep-alive), as uvicorn does.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/http.hpp"

namespace loraplane::sim_engine {

class SseWriter {
 public:
  SseWriter(http::ResponseChannel& channel, std::string request_id,
            std::chrono::seconds write_timeout = std::chrono::seconds(30))
      : channel_(channel), request_id_(std::move(request_id)), timeout_(write_timeout) {}

  // Each returns false once a write failed (the client went away); later calls do nothing.
  awaitable<bool> begin();  // 200, text/event-stream, chunked; the handler's Response is not sent
  awaitable<bool> event(std::string_view data);
  // `data: [DONE]` and the last chunk: the message is complete, so the connection may serve the
  // client's next request when it asked for keep-alive.
  awaitable<bool> finish();
  bool ok() const { return ok_; }

 private:
  awaitable<bool> write_chunk(std::string frame);

  http::ResponseChannel& channel_;
  std::string request_id_;
  std::chrono::seconds timeout_;
  bool ok_ = true;
};

}  // namespace loraplane::sim_engine
