// vLLM references: vllm/entrypoints/openai/serving_chat.py and serving_completion.py (the
// stream generators: a first chunk with role "assistant" and content "", one chunk per token,
// finish_reason on the last, an optional usage chunk with no choices, then "data: [DONE]"),
// serving_engine.py (_check_model: 404 "The model `X` does not exist.", param "model"; the
// max_tokens / context-length 400).
#include "workers/sim_engine/inference.hpp"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <optional>
#include <variant>

#include "common/unix_time.hpp"
#include "workers/sim_engine/generation.hpp"
#include "workers/sim_engine/http_io.hpp"
#include "workers/sim_engine/openai_json.hpp"

namespace loraplane::sim_engine {

namespace {

using http::Status;

struct Prepared {
  InferenceRequest request;
  std::string model;  // served name: the base or the adapter
  std::optional<LoraKey> lora;
  std::uint32_t max_tokens = 0;
};

// Resolves the model and the token budget; an error Response when vLLM would answer one.
std::variant<Prepared, http::Response> prepare(const EngineState& st, InferenceRequest req) {
  Prepared p;
  const auto& o = st.options;
  p.model = req.model.empty() ? o.base_model : req.model;
  if (p.model != o.base_model) {
    const auto* record = st.registry.find(p.model);
    if (!record) return vllm_model_not_found(p.model);
    p.lora = LoraKey{record->id, record->name, record->bytes};
  }
  const std::uint32_t input = req.prompt_tokens;
  if (input >= o.max_model_len)
    return vllm_bad_request("This model's maximum context length is " +
                            std::to_string(o.max_model_len) + " tokens. However, your request has " +
                            std::to_string(input) +
                            " input tokens. Please reduce the length of the input messages.");
  const std::uint32_t room = o.max_model_len - input;
  if (req.max_tokens && *req.max_tokens > room)
    return vllm_bad_request(
        "'max_tokens' or 'max_completion_tokens' is too large: " + std::to_string(*req.max_tokens) +
            ". This model's maximum context length is " + std::to_string(o.max_model_len) +
            " tokens and your request has " + std::to_string(input) + " input tokens (" +
            std::to_string(*req.max_tokens) + " > " + std::to_string(o.max_model_len) + " - " +
            std::to_string(input) + ").",
        "max_tokens");
  p.max_tokens = req.max_tokens.value_or(
      req.api == Api::completion ? std::min(o.default_max_tokens, room) : room);
  p.request = std::move(req);
  return p;
}

http::Response start_error(EngineState& st, const Error& error) {
  if (error.code == Errc::limit_exceeded) ++st.counters.rejected_queue_full;
  auto res =
      vllm_error(Status::service_unavailable, "ServiceUnavailableError",
                 error.code == Errc::limit_exceeded
                     ? "The engine's waiting queue is full (" +
                           std::to_string(st.options.max_waiting) + " requests); retry later."
                     : std::string("The engine is shutting down."));
  res.set(http::beast::http::field::retry_after, "1");
  return res;
}

std::string full_body(const Prepared& p, const ResponseHead& head, std::string text,
                      std::string_view finish, const Usage& usage) {
  if (p.request.api == Api::chat) return chat_response(head, text, finish, usage);
  if (p.request.echo) text = p.request.prompt + text;
  return completion_response(head, text, finish, usage);
}

awaitable<http::Response> respond_whole(Generation& gen, const Prepared& p,
                                        const ResponseHead& head) {
  std::string text;
  while (auto token = co_await gen.next()) text.append(*token);
  const std::string finish = gen.done() ? gen.plan().finish_reason : "abort";
  Usage usage{p.request.prompt_tokens, gen.emitted()};
  co_return http::json_response(Status::ok, full_body(p, head, std::move(text), finish, usage));
}

// Completes when the client closes its connection (a read fails), so that a non-streamed
// generation nobody waits for is aborted, as vLLM aborts it. Bytes of a pipelined next request
// are kept for it; beyond 64 KiB of them the watch stops reading (memory stays bounded).
awaitable<void> watch_client(http::ResponseChannel& channel) {
  constexpr std::size_t kMaxPipelined = 64 * 1024;
  while (channel.buffer.size() < kMaxPipelined) {
    auto [ec, n] = co_await channel.stream.socket().async_read_some(channel.buffer.prepare(4096),
                                                                    use_nothrow_awaitable);
    if (ec) co_return;
    channel.buffer.commit(n);
  }
  asio::steady_timer forever(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
  auto [ec] = co_await forever.async_wait(use_nothrow_awaitable);
  (void)ec;
}

// The whole answer, or nullopt when the client left first (the generation is then aborted).
awaitable<std::optional<http::Response>> respond_whole_watched(Generation& gen, const Prepared& p,
                                                               const ResponseHead& head,
                                                               http::ResponseChannel* channel) {
  using namespace asio::experimental::awaitable_operators;
  if (!channel) co_return co_await respond_whole(gen, p, head);
  auto result = co_await (respond_whole(gen, p, head) || watch_client(*channel));
  if (result.index() == 0) co_return std::move(std::get<0>(result));
  channel->written = true;  // nothing more is sent on this connection
  channel->reusable = false;
  channel->status = 499;  // "client closed request", for the route's metrics
  co_return std::nullopt;
}

std::string stream_chunk(const Prepared& p, const ResponseHead& head, std::string_view text,
                         std::optional<std::string_view> finish, const std::optional<Usage>& u) {
  if (p.request.api == Api::chat) return chat_chunk(head, std::nullopt, text, finish, u);
  return completion_chunk(head, text, finish, u);
}

// Returns false when the client went away.
awaitable<bool> respond_stream(Generation& gen, const Prepared& p, const ResponseHead& head,
                               SseWriter& sse) {
  const auto& req = p.request;
  auto usage_now = [&]() -> std::optional<Usage> {
    if (!req.include_usage || !req.continuous_usage) return std::nullopt;
    return Usage{req.prompt_tokens, gen.emitted()};
  };
  if (!co_await sse.begin()) co_return false;
  bool first = true;
  while (auto token = co_await gen.next()) {
    if (first && req.api == Api::chat &&
        !co_await sse.event(chat_chunk(head, "assistant", "", std::nullopt, usage_now())))
      co_return false;
    first = false;
    std::optional<std::string_view> finish;
    if (gen.done()) finish = gen.plan().finish_reason;
    std::string text(*token);
    if (req.echo && gen.emitted() == 1) text = req.prompt + text;
    if (!co_await sse.event(stream_chunk(p, head, text, finish, usage_now()))) co_return false;
  }
  if (!gen.done() && !co_await sse.event(stream_chunk(p, head, "", "abort", usage_now())))
    co_return false;
  const std::string_view object =
      req.api == Api::chat ? "chat.completion.chunk" : "text_completion";
  if (req.include_usage &&
      !co_await sse.event(usage_chunk(head, object, Usage{req.prompt_tokens, gen.emitted()})))
    co_return false;
  co_return co_await sse.finish();
}

}  // namespace

// GCC 12 at -O2 reports -Wmismatched-new-delete on this coroutine's frame: Asio allocates
// awaitable frames with awaitable_frame_base::operator new and frees them with the matching
// operator delete, but after inlining GCC no longer sees the pair. A false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
awaitable<http::Response> serve_inference(std::shared_ptr<EngineState> state,
                                          http::RequestContext& rc, Api api) {
  auto& st = *state;
  if (st.options.embedding_dim > 0)
    co_return vllm_bad_request(api == Api::chat
                                   ? "The model does not support Chat Completions API"
                                   : "The model does not support Completions API");
  // The server read the body, bounded by the same max_body_bytes (413 beyond it).
  const std::string& body = rc.request.body();
  auto parsed = api == Api::chat ? parse_chat_request(body, st.options.max_body_bytes)
                                 : parse_completion_request(body, st.options.max_body_bytes);
  if (!parsed) co_return vllm_bad_request(parsed.error().message);
  auto prepared = prepare(st, std::move(*parsed));
  if (auto* error = std::get_if<http::Response>(&prepared)) co_return std::move(*error);
  const auto p = std::get<Prepared>(std::move(prepared));
  auto seed = text_seed(st.options.seed, p.model, p.request.prompt, p.request.seed);
  st.counters.prompt_tokens += p.request.prompt_tokens;
  auto gen = co_await Generation::start(state, p.lora,
                                        plan_text(seed, p.max_tokens, p.request.ignore_eos));
  if (!gen) co_return start_error(st, gen.error());
  ResponseHead head{(api == Api::chat ? "chatcmpl-" : "cmpl-") + st.random_hex(),
                    unix_now_seconds(), p.model};
  if (!p.request.stream) {
    auto res = co_await respond_whole_watched(**gen, p, head, rc.channel);
    if (!res) {
      ++st.counters.client_disconnects;
      co_return http::text_response(Status::ok, "");
    }
    ++st.counters.finished[(*gen)->done() ? (*gen)->plan().finish_reason : "abort"];
    co_return std::move(*res);
  }
  SseWriter sse(*rc.channel, rc.request_id);
  if (co_await respond_stream(**gen, p, head, sse)) {
    ++st.counters.finished[(*gen)->done() ? (*gen)->plan().finish_reason : "abort"];
  } else {
    ++st.counters.client_disconnects;
  }
  // The stream was written through the channel; this response only labels the route's metrics.
  co_return http::text_response(Status::ok, "");
}
#pragma GCC diagnostic pop

awaitable<http::Response> chat_completions(std::shared_ptr<EngineState> state,
                                           http::RequestContext& rc) {
  return serve_inference(std::move(state), rc, Api::chat);
}

awaitable<http::Response> completions(std::shared_ptr<EngineState> state,
                                      http::RequestContext& rc) {
  return serve_inference(std::move(state), rc, Api::completion);
}

}  // namespace loraplane::sim_engine
