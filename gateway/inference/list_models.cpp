// GET /v1/models: the base models of the catalog, then the caller's ready adapters as
// "<base>:<name>" (owned_by the tenant, parent = base). Only the caller's tenant is ever listed.
#include "gateway/errors.hpp"
#include "gateway/inference/handlers.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway::inference {

namespace {
constexpr std::size_t kMaxListed = 10000;
}

awaitable<http::Response> list_models(GatewayContext& ctx, http::RequestContext& rc) {
  auto tenant = ctx.authenticate(rc.request);
  if (!tenant) co_return errors::invalid_api_key(rc.request);
  schema::ModelList list;
  for (const auto& base : ctx.catalog.models()) {
    schema::Model model;
    model.id = base.id;
    model.created = ctx.started_at;
    model.owned_by = "loraplane";
    list.data.push_back(std::move(model));
  }
  bool has_more = false;
  for (auto& state : ctx.adapters.list(tenant->id, kMaxListed, {}, has_more)) {
    if (state.adapter.status != schema::AdapterStatus::ready) continue;
    schema::Model model;
    model.id = state.adapter.base_model + ":" + state.adapter.name;
    model.created = state.adapter.created_at;
    model.owned_by = tenant->id;
    model.parent = state.adapter.base_model;
    list.data.push_back(std::move(model));
  }
  co_return http::json_response(http::Status::ok, schema::to_json(list));
}

}  // namespace loraplane::gateway::inference
