// GET /v1/models: the base models of the catalog, then (as they become ready) the caller's
// adapters as "<base>:<name>" with parent = base. Only the caller's tenant is ever listed.
#include "gateway/errors.hpp"
#include "gateway/inference/handlers.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway::inference {

awaitable<http::Response> list_models(GatewayContext& ctx, http::RequestContext& rc) {
  auto tenant = ctx.authenticate(rc.request);
  if (!tenant) co_return errors::invalid_api_key();
  schema::ModelList list;
  for (const auto& base : ctx.catalog.models()) {
    schema::Model model;
    model.id = base.id;
    model.created = ctx.started_at;
    model.owned_by = "loraplane";
    list.data.push_back(std::move(model));
  }
  co_return http::json_response(http::Status::ok, schema::to_json(list));
}

}  // namespace loraplane::gateway::inference
