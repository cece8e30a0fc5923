#include "gateway/adapters/handlers.hpp"

namespace loraplane::gateway::adapters {

void add_routes(http::Router& router, GatewayContext& ctx) {
  using http::Verb;
  router.add_stream(Verb::post, "/v1/adapters/upload",
                    [&ctx](http::StreamContext& sc) { return upload(ctx, sc); });
  router.add(Verb::post, "/v1/adapters",
             [&ctx](http::RequestContext& rc) { return create(ctx, rc); });
  router.add(Verb::get, "/v1/adapters",
             [&ctx](http::RequestContext& rc) { return list(ctx, rc); });
  router.add(Verb::get, "/v1/adapters/{id}",
             [&ctx](http::RequestContext& rc) { return get(ctx, rc); });
  router.add(Verb::delete_, "/v1/adapters/{id}",
             [&ctx](http::RequestContext& rc) { return remove(ctx, rc); });
}

}  // namespace loraplane::gateway::adapters
