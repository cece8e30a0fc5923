// Model resolution (ARCHITECTURE §2): "<base>[:<adapter name>]" within the caller's tenant.
#include "gateway/errors.hpp"
#include "gateway/inference/proxy.hpp"

namespace loraplane::gateway::inference {

std::string_view engine_path(Api api) {
  switch (api) {
    case Api::chat:
      return "/v1/chat/completions";
    case Api::completion:
      return "/v1/completions";
    case Api::embedding:
      break;
  }
  return "/v1/embeddings";
}

std::variant<Target, http::Response> resolve(const GatewayContext& ctx,
                                             const schema::TenantRecord& tenant, Api api,
                                             const std::string& model) {
  Target t;
  t.caller_model = model;
  t.tenant_id = tenant.id;
  auto colon = model.find(':');
  t.base = model.substr(0, colon);
  const bool named = colon != std::string::npos;
  const std::string name = named ? model.substr(colon + 1) : std::string();
  const auto* base = ctx.catalog.find(t.base);
  if (!base) return errors::model_not_found(model);
  if (api == Api::embedding) {
    if (base->kind != ModelKind::embedding)
      return errors::invalid_request("The model `" + t.base +
                                         "` is not an embedding model; use /v1/chat/completions "
                                         "or /v1/completions.",
                                     "model", "model_not_supported");
    if (named)
      return errors::invalid_request(
          "Embedding models take no LoRA adapters: call `" + t.base + "` without `:" + name + "`.",
          "model", "adapter_not_supported");
  } else if (base->kind == ModelKind::embedding) {
    return errors::invalid_request(
        "The model `" + t.base + "` is an embedding model; use /v1/embeddings.", "model",
        "model_not_supported");
  }
  if (!named) {
    t.upstream_model = t.base;
    return t;
  }
  auto state = name.empty() ? std::nullopt : ctx.adapters.brief_by_name(tenant.id, t.base, name);
  if (!state) return errors::model_not_found(model);
  if (state->status != schema::AdapterStatus::ready) {
    std::string why =
        state->status == schema::AdapterStatus::failed
            ? "failed validation and cannot serve requests"
            : "is not ready yet (status: " + std::string(schema::to_string(state->status)) +
                  "); retry once it is ready";
    auto res = errors::conflict("adapter_not_ready", "The adapter `" + model + "` " + why + ".");
    return res;
  }
  t.adapter_id = state->id;
  t.upstream_model = t.base + ":" + t.adapter_id;
  return t;
}

}  // namespace loraplane::gateway::inference
