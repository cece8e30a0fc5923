// GET /admin/v1/engines: every engine the router knows, healthy or not, with its adapters where
// route() places them (Router::snapshot) as vLLM LoRA names ("<base>:<adapter id>") and the
// age of its last heartbeat.
#include "gateway/admin/handlers.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway::admin {

namespace {

std::vector<std::string> lora_names(const std::string& base, const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const auto& id : ids) out.push_back(base + ":" + id);
  return out;
}

}  // namespace

awaitable<http::Response> list_engines(GatewayContext& ctx, http::RequestContext& rc) {
  if (auto denied = ctx.require_admin(rc.request)) co_return std::move(*denied);
  schema::EngineList list;
  if (ctx.router) {
    for (auto& e : ctx.router->snapshot(ctx.now_ms())) {
      const auto& r = e.residency;
      schema::EngineView v;
      v.id = r.engine_id;
      v.base_model = r.base_model;
      v.url = r.url;
      v.healthy = e.healthy;
      v.gpu = lora_names(r.base_model, r.gpu);
      v.cpu = lora_names(r.base_model, r.cpu);
      v.disk = lora_names(r.base_model, r.disk);
      v.loading = lora_names(r.base_model, r.loading);
      v.free_slots = r.free_slots;
      v.queue_depth = r.queue_depth;
      v.heartbeat_age_ms = e.heartbeat_age_ms;
      list.data.push_back(std::move(v));
    }
  }
  co_return http::json_response(http::Status::ok, schema::to_json(list));
}

}  // namespace loraplane::gateway::admin
