#include "common/log.hpp"
#include "common/request_id.hpp"
#include "gateway/adapters/handlers.hpp"
#include "gateway/delete_job.hpp"
#include "gateway/errors.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway::adapters {

awaitable<http::Response> remove(GatewayContext& ctx, http::RequestContext& rc) {
  auto tenant = ctx.authenticate(rc.request);
  if (!tenant) co_return errors::invalid_api_key(rc.request);
  auto state = ctx.adapters.get(tenant->id, rc.param("id"));
  if (!state) co_return errors::not_found("adapter_not_found", "no such adapter");
  if (!ctx.producer.brokers_reachable())
    co_return errors::unavailable("adapter store unavailable: Kafka is unreachable; retry shortly", 5);

  const auto job = delete_job(*state, ctx.now_seconds());
  const auto request_headers = kafka::request_id_headers(rc.request_id);
  auto sent = co_await kafka::produce(ctx.producer, kafka::kJobs, tenant->id, schema::to_json(job),
                                      request_headers);
  if (!sent) co_return errors::unavailable("adapter store unavailable: " + sent.error().message);
  ctx.adapters.hide(state->adapter.id);  // the name is free on this gateway at once
  logging::info({"gateway", rc.request_id}, "adapter {} of tenant {}: delete queued",
                state->adapter.id, tenant->id);

  schema::AdapterDeleted body;
  body.id = state->adapter.id;
  co_return http::json_response(http::Status::ok, schema::to_json(body));
}

}  // namespace loraplane::gateway::adapters
