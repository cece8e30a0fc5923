#include "gateway/adapters/handlers.hpp"
#include "gateway/errors.hpp"

namespace loraplane::gateway::adapters {

std::optional<http::Response> check_new_adapter(const GatewayContext& ctx,
                                                const schema::TenantRecord& tenant,
                                                std::string_view name,
                                                std::string_view base_model,
                                                AdapterDirectory::NameClaim& claim) {
  if (!schema::valid_name(name))
    return errors::invalid_request("name: must be 1-64 characters of [A-Za-z0-9._-]", "name");
  const auto* base = ctx.catalog.find(base_model);
  if (!base)
    return http::error_response(http::Status::not_found, "invalid_request_error",
                                "model_not_found",
                                "base model '" + std::string(base_model.substr(0, 128)) +
                                    "' does not exist",
                                "base_model");
  if (base->kind != ModelKind::chat)
    return errors::invalid_request("base model '" + base->id +
                                       "' is an embedding model: LoRA adapters are not supported",
                                   "base_model", "lora_not_supported");
  // The holder is the caller's own adapter, so naming it leaks nothing; a failed upload holds
  // its name until deleted, and the message says which adapter to delete.
  if (auto holder = ctx.adapters.brief_by_name(tenant.id, base_model, name)) {
    const bool failed = holder->status == schema::AdapterStatus::failed;
    return errors::conflict("adapter_exists",
                            "an adapter named '" + std::string(name) + "' already exists for " +
                                base->id + " (" + holder->id + ", " +
                                std::string(schema::to_string(holder->status)) + ")" +
                                (failed ? "; delete it to reuse the name" : ""));
  }
  if (!claim.take(ctx.adapters, tenant.id, base->id, name))
    return errors::conflict("adapter_exists", "an adapter named '" + std::string(name) +
                                                  "' for " + base->id +
                                                  " is being created by another request");
  return check_quota(ctx, tenant);
}

std::optional<http::Response> check_quota(const GatewayContext& ctx,
                                          const schema::TenantRecord& tenant) {
  auto limits = schema::limits(tenant.tier);
  if (ctx.adapters.count(tenant.id) < limits.max_adapters) return std::nullopt;
  return http::error_response(http::Status::forbidden, "invalid_request_error",
                              "adapter_limit_reached",
                              "this tenant's tier allows " + std::to_string(limits.max_adapters) +
                                  " adapters; delete one first");
}

}  // namespace loraplane::gateway::adapters
