#include <spdlog/spdlog.h>

#include "gateway/admin/handlers.hpp"
#include "gateway/errors.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway::admin {

awaitable<http::Response> create_key(GatewayContext& ctx, http::RequestContext& rc) {
  if (auto denied = ctx.require_admin(rc.request)) co_return std::move(*denied);
  auto tenant = ctx.tenants.tenant(rc.param("id"));
  if (!tenant) co_return errors::not_found("tenant_not_found", "no such tenant");

  auto key = generate_api_key(tenant->id, ctx.now_seconds());
  auto sent = co_await kafka::produce_delivered(ctx.producer, kafka::kTenants,
                                      api_key_topic_key(key.record.prefix),
                                      schema::to_json(key.record));
  if (!sent) {
    spdlog::warn("create key for {}: {}", tenant->id, sent.error().message);
    co_return errors::unavailable("tenant store unavailable, try again");
  }
  ctx.tenants.put(key.record, sent.value().offset);
  spdlog::info("api key {} created for tenant {}", key.record.prefix, tenant->id);

  schema::ApiKeyCreated body;
  body.tenant_id = tenant->id;
  body.api_key = std::move(key.key);
  body.prefix = key.record.prefix;
  body.created_at = key.record.created_at;
  co_return http::json_response(http::Status::created, schema::to_json(body));
}

}  // namespace loraplane::gateway::admin
