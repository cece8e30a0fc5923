// OpenAI inference API handlers (§5): model listing, and chat/completions, completions and
// embeddings proxied to an engine chosen by the residency-aware router.
#pragma once

#include "common/http.hpp"
#include "gateway/context.hpp"

namespace loraplane::gateway::inference {

// GET /v1/models: the bases, then the caller's ready adapters as "<base>:<name>".
awaitable<http::Response> list_models(GatewayContext& ctx, http::RequestContext& rc);
awaitable<http::Response> retrieve_model(GatewayContext& ctx, http::RequestContext& rc);
// POST /v1/chat/completions, /v1/completions (JSON or SSE), /v1/embeddings.
awaitable<http::Response> chat_completions(GatewayContext& ctx, http::RequestContext& rc);
awaitable<http::Response> completions(GatewayContext& ctx, http::RequestContext& rc);
awaitable<http::Response> embeddings(GatewayContext& ctx, http::RequestContext& rc);

void add_routes(http::Router& router, GatewayContext& ctx);

}  // namespace loraplane::gateway::inference
