#include "gateway/inference/handlers.hpp"

namespace loraplane::gateway::inference {

void add_routes(http::Router& router, GatewayContext& ctx) {
  using http::Verb;
  router.add(Verb::get, "/v1/models",
             [&ctx](http::RequestContext& rc) { return list_models(ctx, rc); });
  router.add(Verb::get, "/v1/models/{model}",
             [&ctx](http::RequestContext& rc) { return retrieve_model(ctx, rc); });
  router.add(Verb::post, "/v1/chat/completions",
             [&ctx](http::RequestContext& rc) { return chat_completions(ctx, rc); });
  router.add(Verb::post, "/v1/completions",
             [&ctx](http::RequestContext& rc) { return completions(ctx, rc); });
  router.add(Verb::post, "/v1/embeddings",
             [&ctx](http::RequestContext& rc) { return embeddings(ctx, rc); });
}

}  // namespace loraplane::gateway::inference
