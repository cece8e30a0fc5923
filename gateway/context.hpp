// What the gateway's handlers share: the tenant view, the Kafka producer, the admin token hash,
// the clock, the base-model catalog, the router and the upstream connection pool. Owned by
// Gateway; handlers hold a reference.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/http.hpp"
#include "common/kafka.hpp"
#include "common/model_catalog.hpp"
#include "gateway/adapter_directory.hpp"
#include "gateway/router/shared_router.hpp"
#include "gateway/tenant_directory.hpp"

namespace loraplane::gateway {

namespace inference {
class UpstreamPool;
class TenantInflight;
}
namespace adapters {
class UploadSlots;
}

struct GatewayContext {
  TenantDirectory& tenants;
  AdapterDirectory& adapters;
  kafka::Producer& producer;
  std::string admin_token_sha256;  // empty: admin API disabled
  std::function<std::int64_t()> now_seconds;
  const ModelCatalog& catalog;
  std::int64_t started_at = 0;
  // Inference: the residency-aware router, the engine/agent connection pool, unix ms.
  router::SharedRouter* router = nullptr;
  inference::UpstreamPool* upstream = nullptr;
  std::function<std::int64_t()> now_ms;
  inference::TenantInflight* inflight = nullptr;  // per-tenant bound on requests in flight
  // Uploads: admission bound, and how long one read of a body may stall.
  adapters::UploadSlots* upload_slots = nullptr;
  std::chrono::seconds body_timeout{60};

  // nullopt when the request carries the admin token; otherwise the 401 to send.
  std::optional<http::Response> require_admin(const http::RequestHeader& request) const;
  // The caller's tenant, or the 401 to send.
  std::optional<schema::TenantRecord> authenticate(const http::RequestHeader& request) const;
};

}  // namespace loraplane::gateway
