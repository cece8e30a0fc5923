#include "workers/sim_engine/http_io.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

namespace loraplane::sim_engine {

namespace beast = http::beast;
namespace bhttp = beast::http;

awaitable<bool> SseWriter::begin() {
  bhttp::response<bhttp::empty_body> res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "text/event-stream; charset=utf-8");
  res.set("x-request-id", request_id_);
  res.keep_alive(channel_.keep_alive);
  res.chunked(true);
  bhttp::response_serializer<bhttp::empty_body> serializer{res};
  channel_.written = true;
  channel_.status = 200;
  channel_.stream.expires_after(timeout_);
  auto [ec, n] =
      co_await bhttp::async_write_header(channel_.stream, serializer, use_nothrow_awaitable);
  (void)n;
  ok_ = !ec;
  co_return ok_;
}

awaitable<bool> SseWriter::event(std::string_view data) {
  std::string frame;
  frame.reserve(data.size() + 8);
  frame.append("data: ").append(data).append("\n\n");
  co_return co_await write_chunk(std::move(frame));
}

awaitable<bool> SseWriter::finish() {
  if (co_await write_chunk("data: [DONE]\n\n")) {
    channel_.stream.expires_after(timeout_);
    auto [ec, n] = co_await asio::async_write(channel_.stream, bhttp::make_chunk_last(),
                                              use_nothrow_awaitable);
    (void)n;
    ok_ = !ec;
  }
  channel_.reusable = ok_;
  co_return ok_;
}

awaitable<bool> SseWriter::write_chunk(std::string frame) {
  if (!ok_) co_return false;
  channel_.stream.expires_after(timeout_);
  auto [ec, n] = co_await asio::async_write(
      channel_.stream, bhttp::make_chunk(asio::buffer(frame)), use_nothrow_awaitable);
  (void)n;
  ok_ = !ec;
  co_return ok_;
}

}  // namespace loraplane::sim_engine
