#include "gateway/adapters/handlers.hpp"
#include "gateway/errors.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway::adapters {

awaitable<http::Response> get(GatewayContext& ctx, http::RequestContext& rc) {
  auto tenant = ctx.authenticate(rc.request);
  if (!tenant) co_return errors::invalid_api_key(rc.request);
  // Another tenant's id answers exactly like a missing one.
  auto state = ctx.adapters.get(tenant->id, rc.param("id"));
  if (!state) co_return errors::not_found("adapter_not_found", "no such adapter");
  co_return http::json_response(http::Status::ok, schema::to_json(state->adapter));
}

}  // namespace loraplane::gateway::adapters
