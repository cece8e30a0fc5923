// POST /v1/chat/completions, /v1/completions, /v1/embeddings: authenticate, check the body,
// resolve the model, then forward while watching the client: if it disconnects, the engine
// call is cut so the generation stops.
#include "gateway/inference/proxy.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "gateway/errors.hpp"
#include "gateway/gateway_metrics.hpp"
#include "gateway/inference/handlers.hpp"
#include "gateway/inference/model_field.hpp"
#include "gateway/inference/tenant_inflight.hpp"

namespace loraplane::gateway::inference {

namespace {

// Completes when the client closes its connection (then cuts the call under way); bytes it
// sends meanwhile (a pipelined request) stay in the session's buffer for later.
awaitable<void> watch_client(http::ResponseChannel& channel, Exchange& ex) {
  // Bytes of a pipelined next request are kept for it, and the watch goes on: the client may
  // still hang up before this answer. Beyond kMaxPipelined the watch stops (memory is bounded).
  constexpr std::size_t kMaxPipelined = 64 * 1024;
  while (channel.buffer.size() < kMaxPipelined) {
    auto [ec, n] = co_await channel.stream.socket().async_read_some(channel.buffer.prepare(4096),
                                                                    use_nothrow_awaitable);
    if (ec == asio::error::operation_aborted) co_return;  // the forwarding finished first
    if (ec) {
      ex.client_gone = true;
      if (ex.active) ex.active->cancel();
      co_return;
    }
    channel.buffer.commit(n);
  }
  asio::steady_timer forever(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
  auto [wait_ec] = co_await forever.async_wait(use_nothrow_awaitable);
  (void)wait_ec;
}

awaitable<http::Response> forward_watched(Forward& f, Exchange& ex) {
  using namespace asio::experimental::awaitable_operators;
  if (!f.rc.channel) co_return co_await forward(f, ex);
  auto result = co_await (forward(f, ex) || watch_client(*f.rc.channel, ex));
  if (result.index() == 0) co_return std::move(std::get<0>(result));
  co_return client_gone_response(f.rc);
}

awaitable<http::Response> handle(GatewayContext& ctx, http::RequestContext& rc, Api api) {
  auto tenant = ctx.authenticate(rc.request);
  if (!tenant) co_return errors::invalid_api_key(rc.request);
  if (!ctx.router || !ctx.upstream)
    co_return errors::unavailable("inference is not configured on this gateway", 5);
  // Held until the answer (or the stream) is done.
  auto slot = ctx.inflight ? ctx.inflight->acquire(tenant->id, tenant->tier)
                           : std::optional<TenantInflight::Slot>{};
  if (ctx.inflight && !slot) {
    co_return errors::rate_limited("too many requests in flight for this tenant (" +
                                       std::to_string(ctx.inflight->limit(tenant->tier)) +
                                       " at once on its tier); retry shortly",
                                   1);
  }
  count_tenant_request(tenant->id, api == Api::chat         ? "chat"
                                  : api == Api::completion ? "completion"
                                                           : "embedding");
  const std::string& body = rc.request.body();
  InferenceBody parsed;
  if (auto bad = parse_inference_body(body, parsed))
    co_return errors::invalid_request(bad->message, bad->param);
  auto resolved = resolve(ctx, *tenant, api, parsed.model);
  if (auto* res = std::get_if<http::Response>(&resolved)) co_return std::move(*res);
  Forward f{ctx, rc, std::get<Target>(std::move(resolved)), api, {}};
  f.body = replace_model(body, parsed.span, f.target.upstream_model);
  Exchange ex;
  co_return co_await forward_watched(f, ex);
}

}  // namespace

awaitable<http::Response> chat_completions(GatewayContext& ctx, http::RequestContext& rc) {
  return handle(ctx, rc, Api::chat);
}

awaitable<http::Response> completions(GatewayContext& ctx, http::RequestContext& rc) {
  return handle(ctx, rc, Api::completion);
}

awaitable<http::Response> embeddings(GatewayContext& ctx, http::RequestContext& rc) {
  return handle(ctx, rc, Api::embedding);
}

}  // namespace loraplane::gateway::inference
