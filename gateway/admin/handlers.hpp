// Admin API handlers (§5): tenants and their API keys, the fleet view. Each needs the admin bearer token.
#pragma once

#include "common/http.hpp"
#include "gateway/context.hpp"

namespace loraplane::gateway::admin {

// POST /admin/v1/tenants {"name","tier"} → 201 tenant with its first api_key.
awaitable<http::Response> create_tenant(GatewayContext& ctx, http::RequestContext& rc);
// DELETE /admin/v1/tenants/{id} → 200; its keys stop working and its adapters are deleted.
awaitable<http::Response> delete_tenant(GatewayContext& ctx, http::RequestContext& rc);
// POST /admin/v1/tenants/{id}/keys → 201 a new key for the tenant.
awaitable<http::Response> create_key(GatewayContext& ctx, http::RequestContext& rc);
// DELETE /admin/v1/keys/{prefix} → 200; every gateway refuses the key within a poll interval.
awaitable<http::Response> revoke_key(GatewayContext& ctx, http::RequestContext& rc);
// GET /admin/v1/engines → the fleet exactly as the router sees it.
awaitable<http::Response> list_engines(GatewayContext& ctx, http::RequestContext& rc);

void add_routes(http::Router& router, GatewayContext& ctx);

}  // namespace loraplane::gateway::admin
