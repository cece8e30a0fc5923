// OpenAI inference API handlers (§5): model listing now; chat/completions proxying joins with
// the router.
#pragma once

#include "common/http.hpp"
#include "gateway/context.hpp"

namespace loraplane::gateway::inference {

awaitable<http::Response> list_models(GatewayContext& ctx, http::RequestContext& rc);

void add_routes(http::Router& router, GatewayContext& ctx);

}  // namespace loraplane::gateway::inference
