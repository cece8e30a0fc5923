// POST /v1/adapters {name, base_model, repo, revision="main", hf_token?}: a Hugging Face import.
// The gateway checks what it can at once (auth, body, name, base model, quota), records the
// adapter as pending and queues the import job; the validate worker resolves the revision,
// downloads and validates. The hf_token travels sealed (common/seal.hpp) and is never logged.
#include <chrono>

#include "common/log.hpp"
#include "common/request_id.hpp"
#include "common/seal.hpp"
#include "common/unix_time.hpp"
#include "gateway/adapter_directory.hpp"
#include "gateway/adapters/handlers.hpp"
#include "gateway/errors.hpp"
#include "gateway/gateway_metrics.hpp"
#include "schema/adapter_job.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway::adapters {

awaitable<http::Response> create(GatewayContext& ctx, http::RequestContext& rc) {
  auto tenant = ctx.authenticate(rc.request);
  if (!tenant) co_return errors::invalid_api_key(rc.request);
  auto request = schema::parse<schema::CreateAdapterRequest>(rc.request.body());
  if (!request)
    co_return errors::invalid_request(request.error().message,
                                      schema::error_field(request.error()).value_or(""));
  AdapterDirectory::NameClaim claim;
  if (auto rejected = check_new_adapter(ctx, *tenant, request->name, request->base_model, claim))
    co_return std::move(*rejected);
  if (!ctx.producer.brokers_reachable()) {
    count_import("unavailable");
    co_return errors::unavailable("adapter store unavailable: Kafka is unreachable; retry shortly", 5);
  }

  std::optional<std::string> sealed;
  if (request->hf_token) {
    auto sealer = Sealer::from_env();
    if (!sealer || !*sealer)
      co_return errors::unavailable(
          "imports with an hf_token need LORAPLANE_SEAL_KEY on the gateway and validate workers", 60);
    sealed = (*sealer)->seal(*request->hf_token);
  }

  // Milliseconds order the ids of adapters created within one second (newest first).
  const std::int64_t created_ms = unix_now_ms();
  schema::AdapterState state;
  state.seq = 1;
  state.tenant_id = tenant->id;
  state.updated_at = created_ms / 1000;
  auto& a = state.adapter;
  a.id = new_adapter_id(created_ms);
  a.name = request->name;
  a.base_model = request->base_model;
  a.status = schema::AdapterStatus::pending;
  a.source.type = schema::SourceType::hf;
  a.source.repo = request->repo;
  a.source.revision = request->revision;
  a.created_at = created_ms / 1000;

  auto job = schema::adapter_job(schema::JobKind::import, tenant->id, a, a.created_at);
  job.hf_import = schema::JobImport{request->repo, request->revision, std::move(sealed)};

  // The job before the pending state, as for uploads (upload.cpp).
  const auto request_headers = kafka::request_id_headers(rc.request_id);
  auto sent = co_await kafka::produce(ctx.producer, kafka::kJobs, tenant->id, schema::to_json(job),
                                      request_headers);
  if (sent)
    sent = co_await kafka::produce(ctx.producer, kafka::kAdapters, a.id, schema::to_json(state),
                                   request_headers);
  if (!sent) {
    count_import("failed");
    co_return errors::unavailable("adapter store unavailable: " + sent.error().message);
  }
  count_import("accepted");
  ctx.adapters.put(state);
  logging::info({"gateway", rc.request_id}, "import of {}@{} for tenant {}: adapter {} pending",
                request->repo, request->revision, tenant->id, a.id);
  co_return http::json_response(http::Status::accepted, schema::to_json(state.adapter));
}

}  // namespace loraplane::gateway::adapters
