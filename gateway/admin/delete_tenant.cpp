// DELETE /admin/v1/tenants/{id}: the tenant record first (its keys then authenticate nobody, on
// this gateway at once and on the others within a poll of loraplane.tenants), then one delete
// job per adapter, exactly as DELETE /v1/adapters/{id} queues it. A tenant already deleted is
// swept again (its record written again, which the validate workers sweep on too), so a retry
// after a 503 or a lost answer finishes the job; uploads that were mid-stream when the record
// was written are refused before their job (adapters/upload.cpp), and the validate workers
// delete the adapters this gateway did not know of (another gateway accepted them, or this
// one's view lagged): workers/validate/tenant_sweep.hpp.
#include "common/log.hpp"
#include "common/request_id.hpp"
#include "gateway/admin/handlers.hpp"
#include "gateway/delete_job.hpp"
#include "gateway/errors.hpp"
#include "schema/json.hpp"
#include "schema/tenant_deleted.hpp"

namespace loraplane::gateway::admin {

namespace {

constexpr std::size_t kPage = 256;

}  // namespace

awaitable<http::Response> delete_tenant(GatewayContext& ctx, http::RequestContext& rc) {
  if (auto denied = ctx.require_admin(rc.request)) co_return std::move(*denied);
  auto tenant = ctx.tenants.record(rc.param("id"));
  if (!tenant) co_return errors::not_found("tenant_not_found", "no such tenant");
  if (!ctx.producer.brokers_reachable())
    co_return errors::unavailable("tenant store unavailable: Kafka is unreachable; retry shortly",
                                  5);

  const auto request_headers = kafka::request_id_headers(rc.request_id);
  // Written again for a tenant already deleted: each validate worker that reads it sweeps again.
  tenant->deleted = true;
  auto written =
      co_await kafka::produce_delivered(ctx.producer, kafka::kTenants, tenant_topic_key(tenant->id),
                                        schema::to_json(*tenant), request_headers);
  if (!written) {
    logging::warn({"gateway", rc.request_id}, "delete tenant {}: {}", tenant->id,
                  written.error().message);
    co_return errors::unavailable("tenant store unavailable, try again");
  }
  ctx.tenants.put(*tenant, written.value().offset);

  // Page through the tenant's adapters; hide() takes each out of the next page.
  std::int64_t queued = 0;
  while (true) {
    bool has_more = false;
    auto page = ctx.adapters.list(tenant->id, kPage, "", has_more);
    if (page.empty()) break;
    for (const auto& state : page) {
      auto sent = co_await kafka::produce(ctx.producer, kafka::kJobs, tenant->id,
                                          schema::to_json(delete_job(state, ctx.now_seconds())),
                                          request_headers);
      if (!sent) {
        logging::warn({"gateway", rc.request_id},
                      "delete tenant {}: {} adapter deletes queued, then: {}", tenant->id, queued,
                      sent.error().message);
        co_return errors::unavailable("adapter store unavailable, retry to finish the delete");
      }
      ctx.adapters.hide(state.adapter.id);
      ++queued;
    }
    if (!has_more) break;
  }
  logging::info({"gateway", rc.request_id}, "tenant {} deleted: {} adapter deletes queued",
                tenant->id, queued);

  schema::TenantDeleted body;
  body.id = tenant->id;
  body.adapters_deleted = queued;
  co_return http::json_response(http::Status::ok, schema::to_json(body));
}

}  // namespace loraplane::gateway::admin
