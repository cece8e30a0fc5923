#include "gateway/admin/handlers.hpp"

namespace loraplane::gateway::admin {

void add_routes(http::Router& router, GatewayContext& ctx) {
  using http::Verb;
  router.add(Verb::post, "/admin/v1/tenants",
             [&ctx](http::RequestContext& rc) { return create_tenant(ctx, rc); });
  router.add(Verb::delete_, "/admin/v1/tenants/{id}",
             [&ctx](http::RequestContext& rc) { return delete_tenant(ctx, rc); });
  router.add(Verb::post, "/admin/v1/tenants/{id}/keys",
             [&ctx](http::RequestContext& rc) { return create_key(ctx, rc); });
  router.add(Verb::delete_, "/admin/v1/keys/{prefix}",
             [&ctx](http::RequestContext& rc) { return revoke_key(ctx, rc); });
  router.add(Verb::get, "/admin/v1/engines",
             [&ctx](http::RequestContext& rc) { return list_engines(ctx, rc); });
}

}  // namespace loraplane::gateway::admin
