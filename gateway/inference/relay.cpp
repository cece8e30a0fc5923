// Relays an engine's answer to the client. A whole answer is read (bounded) and returned with
// its `model` given back; an SSE answer is written through the request's ResponseChannel as the
// engine produces it, complete events only, each `data:` JSON with its `model` given back and
// every other byte as the engine sent it. Nothing buffers a whole stream.
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include "gateway/errors.hpp"
#include "gateway/inference/model_field.hpp"
#include "gateway/inference/proxy.hpp"

namespace loraplane::gateway::inference {

namespace {

namespace beast = http::beast;
namespace bhttp = beast::http;

constexpr std::size_t kMaxWholeAnswer = 64 * 1024 * 1024;
// An event longer than this is passed on as it is (never held back without bound).
constexpr std::size_t kMaxEventBytes = 4 * 1024 * 1024;
constexpr std::chrono::seconds kClientWriteTimeout{60};

bool is_json(std::string_view content_type) {
  return content_type.starts_with("application/json") || content_type.empty();
}

// One SSE event (up to and including its blank line) with the model of each data line
// replaced.
void append_event(std::string& out, std::string_view event, std::string_view model) {
  std::size_t at = 0;
  while (at < event.size()) {
    auto eol = event.find('\n', at);
    std::size_t end = eol == std::string_view::npos ? event.size() : eol + 1;
    std::string_view line = event.substr(at, end - at);
    if (line.starts_with("data:")) {
      std::size_t payload = 5;
      if (payload < line.size() && line[payload] == ' ') ++payload;
      std::string_view data = line.substr(payload);
      std::size_t keep = data.size();
      while (keep > 0 && (data[keep - 1] == '\n' || data[keep - 1] == '\r')) --keep;
      std::string_view trailer = data.substr(keep);
      data = data.substr(0, keep);
      if (!data.empty() && data.front() == '{') {
        out.append(line.substr(0, payload));
        out.append(rewrite_model(data, model));
        out.append(trailer);
        at = end;
        continue;
      }
    }
    out.append(line);
    at = end;
  }
}

class SseRelay {
 public:
  // An HTTP/1.0 client cannot read chunked encoding (RFC 9112 §6.1): it gets the events as a
  // body that ends when the connection closes.
  SseRelay(http::ResponseChannel& channel, std::string model, std::string request_id,
           bool chunked)
      : channel_(channel), model_(std::move(model)), request_id_(std::move(request_id)),
        chunked_(chunked) {}

  awaitable<bool> begin(std::string_view content_type) {
    bhttp::response<bhttp::empty_body> res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, content_type);
    res.set(bhttp::field::cache_control, "no-cache");
    res.set("x-request-id", request_id_);
    if (!chunked_) channel_.keep_alive = false;
    res.keep_alive(channel_.keep_alive);
    res.chunked(chunked_);
    bhttp::response_serializer<bhttp::empty_body> serializer{res};
    channel_.written = true;
    channel_.status = 200;
    channel_.stream.expires_after(kClientWriteTimeout);
    auto [ec, n] =
        co_await bhttp::async_write_header(channel_.stream, serializer, use_nothrow_awaitable);
    (void)n;
    co_return !ec;
  }

  // Takes bytes from the engine; writes the complete events among them as one chunk.
  awaitable<bool> feed(std::string_view bytes) {
    pending_.append(bytes);
    std::string out;
    std::size_t at = 0;
    for (;;) {
      auto end = pending_.find("\n\n", at);
      if (end == std::string::npos) break;
      append_event(out, std::string_view(pending_).substr(at, end + 2 - at), model_);
      at = end + 2;
    }
    pending_.erase(0, at);
    if (pending_.size() > kMaxEventBytes) {
      out.append(pending_);
      pending_.clear();
    }
    // No co_await inside || or &&: GCC 12 evaluates it even when the left side decides.
    if (out.empty()) co_return true;
    co_return co_await write_chunk(out);
  }

  awaitable<bool> finish() {
    if (!pending_.empty()) {
      if (!co_await write_chunk(pending_)) co_return false;
    }
    if (!chunked_) co_return true;  // the close ends the body
    channel_.stream.expires_after(kClientWriteTimeout);
    auto [ec, n] = co_await asio::async_write(channel_.stream, bhttp::make_chunk_last(),
                                              use_nothrow_awaitable);
    (void)n;
    co_return !ec;
  }

 private:
  awaitable<bool> write_chunk(const std::string& data) {
    channel_.stream.expires_after(kClientWriteTimeout);
    if (!chunked_) {
      auto [ec, n] = co_await asio::async_write(channel_.stream, asio::buffer(data),
                                                use_nothrow_awaitable);
      (void)n;
      co_return !ec;
    }
    auto [ec, n] = co_await asio::async_write(
        channel_.stream, bhttp::make_chunk(asio::buffer(data)), use_nothrow_awaitable);
    (void)n;
    co_return !ec;
  }

  http::ResponseChannel& channel_;
  std::string model_;
  std::string request_id_;
  std::string pending_;
  bool chunked_;
};

awaitable<http::Response> relay_stream(Forward& f, Exchange& ex, UpstreamCall& call) {
  auto& channel = *f.rc.channel;
  SseRelay sse(channel, f.target.caller_model, f.rc.request_id,
               f.rc.request.version() >= 11);
  std::string content_type(call.header(bhttp::field::content_type));
  if (!co_await sse.begin(content_type)) {
    call.cancel();
    co_return client_gone_response(f.rc);
  }
  for (;;) {
    auto piece = co_await call.read_some();
    if (ex.client_gone) co_return client_gone_response(f.rc);
    if (!piece) {
      // The engine broke off: end the client's stream without its last chunk so the client
      // sees an incomplete answer rather than a clean end.
      count_upstream_error("engine", "io");
      channel.reusable = false;
      co_return http::text_response(http::Status::ok, "");
    }
    if (piece->empty()) break;
    if (!co_await sse.feed(*piece)) {
      call.cancel();  // the client went away: stop the generation
      co_return client_gone_response(f.rc);
    }
  }
  const bool finished = co_await sse.finish();
  channel.reusable = finished && channel.keep_alive;
  co_return http::text_response(http::Status::ok, "");
}

}  // namespace

awaitable<http::Response> relay(Forward& f, Exchange& ex, UpstreamCall& call) {
  std::string content_type(call.header(bhttp::field::content_type));
  if (call.status() == 200 && content_type.starts_with("text/event-stream") && f.rc.channel)
    co_return co_await relay_stream(f, ex, call);
  auto body = co_await call.read_all(kMaxWholeAnswer);
  if (ex.client_gone) co_return client_gone_response(f.rc);
  if (!body) {
    count_upstream_error("engine", "io");
    co_return errors::unavailable("The engine broke off its answer; retry shortly.", 1);
  }
  const unsigned status = call.status();
  std::string text = status / 100 == 2 && is_json(content_type)
                         ? rewrite_model(*body, f.target.caller_model)
                         : std::move(*body);
  http::Response res{static_cast<http::Status>(status), 11};
  res.set(bhttp::field::content_type, content_type.empty() ? "application/json" : content_type);
  if (auto retry = call.header(bhttp::field::retry_after); !retry.empty())
    res.set(bhttp::field::retry_after, retry);
  res.body() = std::move(text);
  res.prepare_payload();
  co_return res;
}

}  // namespace loraplane::gateway::inference
