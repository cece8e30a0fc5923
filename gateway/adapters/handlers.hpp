// Adapters API handlers (§5): upload (streamed), list, get, delete. Every lookup is scoped to
// the caller's tenant.
#pragma once

#include "common/http.hpp"
#include "gateway/adapter_directory.hpp"
#include "gateway/context.hpp"

namespace loraplane::gateway::adapters {

// POST /v1/adapters/upload (multipart: name, base_model, file, config?, lora_alpha?) → 202.
awaitable<http::Response> upload(GatewayContext& ctx, http::StreamContext& sc);
// POST /v1/adapters {name, base_model, repo, revision?, hf_token?} → 202 (a Hub import).
awaitable<http::Response> create(GatewayContext& ctx, http::RequestContext& rc);
// GET /v1/adapters?limit=&after= → {"object":"list","data":[...],"has_more"}.
awaitable<http::Response> list(GatewayContext& ctx, http::RequestContext& rc);
// GET /v1/adapters/{id}
awaitable<http::Response> get(GatewayContext& ctx, http::RequestContext& rc);
// DELETE /v1/adapters/{id} → {"id","object":"adapter.deleted","deleted":true}.
awaitable<http::Response> remove(GatewayContext& ctx, http::RequestContext& rc);

// Checks shared by upload and import: name syntax (400), base model known (404
// model_not_found) and chat (400), name free for this tenant and base and not being created
// by another request of this gateway (409 adapter_exists; `claim` then holds it for the
// caller), tier adapter count (403 adapter_limit_reached). nullopt when all pass.
std::optional<http::Response> check_new_adapter(const GatewayContext& ctx,
                                                const schema::TenantRecord& tenant,
                                                std::string_view name,
                                                std::string_view base_model,
                                                AdapterDirectory::NameClaim& claim);

// 403 adapter_limit_reached when the tenant has its tier's number of adapters.
std::optional<http::Response> check_quota(const GatewayContext& ctx,
                                          const schema::TenantRecord& tenant);

void add_routes(http::Router& router, GatewayContext& ctx);

}  // namespace loraplane::gateway::adapters
