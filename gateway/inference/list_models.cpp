// GET /v1/models: the base models of the catalog, then the caller's ready adapters as
// "<base>:<name>" (owned_by the tenant, parent = base). Only the caller's tenant is ever listed.
// GET /v1/models/{model}: one of those, else 404 model_not_found (as inference would answer).
#include <boost/json.hpp>

#include "gateway/errors.hpp"
#include "gateway/inference/handlers.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway::inference {

namespace {

constexpr std::size_t kMaxListed = 10000;

schema::Model base_model(const GatewayContext& ctx, const std::string& id) {
  schema::Model model;
  model.id = id;
  model.created = ctx.started_at;
  model.owned_by = "loraplane";
  return model;
}

schema::Model adapter_model(const schema::AdapterState& state) {
  schema::Model model;
  model.id = state.adapter.base_model + ":" + state.adapter.name;
  model.created = state.adapter.created_at;
  model.owned_by = state.tenant_id;
  model.parent = state.adapter.base_model;
  return model;
}

// One model object, written by the schema's serializer of the list (so its fields are spelled
// in one place).
std::string model_json(schema::Model model) {
  schema::ModelList one;
  one.data.push_back(std::move(model));
  auto document = boost::json::parse(schema::to_json(one));
  return boost::json::serialize(document.as_object()["data"].as_array()[0]);
}

}  // namespace

awaitable<http::Response> list_models(GatewayContext& ctx, http::RequestContext& rc) {
  auto tenant = ctx.authenticate(rc.request);
  if (!tenant) co_return errors::invalid_api_key(rc.request);
  schema::ModelList list;
  for (const auto& base : ctx.catalog.models()) list.data.push_back(base_model(ctx, base.id));
  bool has_more = false;
  for (auto& state : ctx.adapters.list(tenant->id, kMaxListed, {}, has_more))
    if (state.adapter.status == schema::AdapterStatus::ready)
      list.data.push_back(adapter_model(state));
  co_return http::json_response(http::Status::ok, schema::to_json(list));
}

awaitable<http::Response> retrieve_model(GatewayContext& ctx, http::RequestContext& rc) {
  auto tenant = ctx.authenticate(rc.request);
  if (!tenant) co_return errors::invalid_api_key(rc.request);
  const std::string id(rc.param("model"));
  const auto colon = id.find(':');
  const auto* base = ctx.catalog.find(id.substr(0, colon));
  if (!base) co_return errors::model_not_found(id);
  if (colon == std::string::npos)
    co_return http::json_response(http::Status::ok, model_json(base_model(ctx, base->id)));
  auto brief = ctx.adapters.brief_by_name(tenant->id, base->id, id.substr(colon + 1));
  if (!brief || brief->status != schema::AdapterStatus::ready)
    co_return errors::model_not_found(id);
  auto state = ctx.adapters.get(tenant->id, brief->id);
  if (!state) co_return errors::model_not_found(id);
  co_return http::json_response(http::Status::ok, model_json(adapter_model(*state)));
}

}  // namespace loraplane::gateway::inference
