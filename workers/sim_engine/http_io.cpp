#include "workers/sim_engine/http_io.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

namespace loraplane::sim_engine {

namespace beast = http::beast;
namespace bhttp = beast::http;

awaitable<Result<std::string>> read_body(http::StreamContext& ctx, std::size_t max_bytes,
                                         std::chrono::seconds timeout) {
  auto too_large = [max_bytes] {
    return make_error(Errc::limit_exceeded,
                      "request body larger than " + std::to_string(max_bytes) + " bytes");
  };
  if (ctx.parser.is_done()) co_return std::string();
  auto length = ctx.parser.content_length();
  if (length && *length > max_bytes) co_return too_large();
  const auto& header = ctx.parser.get();
  if (auto expect = header.find(bhttp::field::expect);
      expect != header.end() && beast::iequals(expect->value(), "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    ctx.stream.expires_after(timeout);
    auto [ec, n] =
        co_await asio::async_write(ctx.stream, asio::buffer(kContinue), use_nothrow_awaitable);
    (void)n;
    if (ec) co_return make_error(Errc::io, ec.message());
  }
  bhttp::request_parser<bhttp::string_body> parser(std::move(ctx.parser));
  parser.body_limit(max_bytes);
  ctx.stream.expires_after(timeout);
  auto [ec, n] = co_await bhttp::async_read(ctx.stream, ctx.buffer, parser, use_nothrow_awaitable);
  (void)n;
  if (ec == bhttp::error::body_limit) co_return too_large();
  if (ec) co_return make_error(Errc::io, ec.message());
  co_return std::move(parser.release().body());
}

awaitable<bool> SseWriter::begin() {
  bhttp::response<bhttp::empty_body> res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "text/event-stream; charset=utf-8");
  res.set("x-request-id", request_id_);
  res.keep_alive(false);
  res.chunked(true);
  bhttp::response_serializer<bhttp::empty_body> serializer{res};
  stream_.expires_after(timeout_);
  auto [ec, n] = co_await bhttp::async_write_header(stream_, serializer, use_nothrow_awaitable);
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
    stream_.expires_after(timeout_);
    auto [ec, n] =
        co_await asio::async_write(stream_, bhttp::make_chunk_last(), use_nothrow_awaitable);
    (void)n;
    ok_ = !ec;
  }
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  co_return ok_;
}

awaitable<bool> SseWriter::write_chunk(std::string frame) {
  if (!ok_) co_return false;
  stream_.expires_after(timeout_);
  auto [ec, n] = co_await asio::async_write(stream_, bhttp::make_chunk(asio::buffer(frame)),
                                            use_nothrow_awaitable);
  (void)n;
  ok_ = !ec;
  if (!ok_) {  // never let the server append its own response to a half-written stream
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }
  co_return ok_;
}

}  // namespace loraplane::sim_engine
