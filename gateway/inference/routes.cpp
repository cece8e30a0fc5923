#include "gateway/inference/handlers.hpp"

namespace loraplane::gateway::inference {

void add_routes(http::Router& router, GatewayContext& ctx) {
  router.add(http::Verb::get, "/v1/models",
             [&ctx](http::RequestContext& rc) { return list_models(ctx, rc); });
}

}  // namespace loraplane::gateway::inference
