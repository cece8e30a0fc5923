#include <spdlog/spdlog.h>

#include "common/sha256.hpp"
#include "gateway/admin/handlers.hpp"
#include "gateway/errors.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway::admin {

awaitable<http::Response> create_tenant(GatewayContext& ctx, http::RequestContext& rc) {
  if (auto denied = ctx.require_admin(rc.request)) co_return std::move(*denied);
  auto request = schema::parse<schema::CreateTenantRequest>(rc.request.body());
  if (!request)
    co_return errors::invalid_request(request.error().message,
                                      schema::error_field(request.error()).value_or(""));
  if (ctx.tenants.tenant_by_name(request->name))
    co_return errors::conflict("tenant_exists",
                               "a tenant named '" + request->name + "' already exists");

  schema::TenantRecord tenant;
  tenant.id = "ten_" + random_base62(16);
  tenant.name = request->name;
  tenant.tier = request->tier;
  tenant.created_at = ctx.now_seconds();
  auto key = generate_api_key(tenant.id, tenant.created_at);

  // The key goes first: a key whose tenant never got written authenticates nobody.
  auto key_sent = co_await kafka::produce_delivered(ctx.producer, kafka::kTenants,
                                                    api_key_topic_key(key.record.prefix),
                                                    schema::to_json(key.record));
  auto tenant_sent = key_sent;
  if (key_sent) {
    tenant_sent = co_await kafka::produce_delivered(ctx.producer, kafka::kTenants,
                                                    tenant_topic_key(tenant.id),
                                                    schema::to_json(tenant));
  }
  if (!tenant_sent) {
    spdlog::warn("create tenant {}: {}", tenant.id, tenant_sent.error().message);
    co_return errors::unavailable("tenant store unavailable, try again");
  }
  ctx.tenants.put(key.record, key_sent.value().offset);
  ctx.tenants.put(tenant, tenant_sent.value().offset);
  spdlog::info("tenant {} created (tier {}, key {})", tenant.id, schema::to_string(tenant.tier),
               key.record.prefix);

  schema::Tenant body;
  body.id = tenant.id;
  body.name = tenant.name;
  body.tier = tenant.tier;
  body.created_at = tenant.created_at;
  body.api_key = std::move(key.key);
  co_return http::json_response(http::Status::created, schema::to_json(body));
}

}  // namespace loraplane::gateway::admin
