// Internal to gateway/inference: the pieces of one proxied inference request — model resolution
// within the caller's tenant, the forwarding loop (route, ensure, send, one retry) and the
// relay of the engine's answer (whole JSON or SSE events as they arrive), with the `model`
// field given back as the caller wrote it.
#pragma once

#include <string>
#include <variant>

#include "common/http.hpp"
#include "gateway/context.hpp"
#include "gateway/inference/upstream.hpp"

namespace loraplane::gateway::inference {

enum class Api { chat, completion, embedding };
std::string_view engine_path(Api api);

struct Target {
  std::string caller_model;  // as sent: "<base>" or "<base>:<name>"
  std::string base;
  std::string adapter_id;      // empty for the bare base model
  std::string upstream_model;  // "<base>:<adapter id>" or "<base>"
  std::string tenant_id;       // the caller's
};

// Splits on the first ':', finds the base in the catalog and the adapter by name within the
// tenant. 404 model_not_found (identical for a missing adapter and another tenant's), 409
// adapter_not_ready, 400 for the wrong kind of base for this API or an adapter on embeddings.
std::variant<Target, http::Response> resolve(const GatewayContext& ctx,
                                             const schema::TenantRecord& tenant, Api api,
                                             const std::string& model);

// What the forwarding and the client watch share.
struct Exchange {
  UpstreamCall* active = nullptr;  // the call under way, cancelled if the client goes
  bool client_gone = false;
};

struct Forward {
  GatewayContext& ctx;
  http::RequestContext& rc;
  Target target;
  Api api;
  std::string body;  // to send: the caller's with `model` replaced
};

// Routes, ensures, sends (with the one retry) and relays. Never throws for upstream failures.
awaitable<http::Response> forward(Forward& f, Exchange& ex);
// Relays an answer: whole (model rewritten in a JSON body) or as SSE through rc.channel.
awaitable<http::Response> relay(Forward& f, Exchange& ex, UpstreamCall& call);
// The response for a request whose client went away (never sent; labels the metrics).
http::Response client_gone_response(http::RequestContext& rc);

// Metrics of upstream calls; target "engine" or "agent".
void observe_upstream_latency(std::string_view target, double seconds);
void count_upstream_error(std::string_view target, std::string_view kind);

}  // namespace loraplane::gateway::inference
