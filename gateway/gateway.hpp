// The gateway role: HTTP front door (admin API, adapters API, OpenAI inference API proxied
// through the residency-aware router), its Kafka producer, and the table readers that rebuild
// its caches from compacted topics (tenants, adapters, residency).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/asio.hpp"
#include "common/kafka.hpp"
#include "common/model_catalog.hpp"
#include "gateway/inference/upstream.hpp"
#include "gateway/router/router.hpp"

namespace loraplane::gateway {

struct GatewayOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string admin_token;  // empty: admin API answers 401 to everyone
  // JSON request bodies: a chat request filling a 128k-token context, escaped, fits.
  std::size_t max_body_bytes = std::size_t{4} << 20;
  ModelCatalog catalog;
  router::RouterOptions router;
  inference::UpstreamOptions upstream;
  int tenant_max_inflight = 0;  // > 0: per-tenant inference bound for every tier
  // Slow clients: a request header must arrive within client_timeout, and every read of a
  // request body (up to 256 KiB) must finish within twice that; a stalled client is cut and
  // its partial upload dropped.
  std::chrono::seconds client_timeout{30};
  // Streaming uploads in progress at once, on this gateway (beyond: 503) and per tenant
  // (beyond: 429), both with Retry-After.
  std::size_t max_uploads = 16;
  std::size_t tenant_max_uploads = 4;
};

class Gateway {
 public:
  Gateway(asio::io_context& io, const kafka::Cluster& cluster, GatewayOptions options);
  ~Gateway();
  // Binds the listener and starts the readers; the role turns ready once the tenant and adapter
  // tables are caught up (not the residency table: a pool may be empty); until then every route
  // but /healthz and /metrics answers 503 with Retry-After. Throws if the port cannot be bound.
  void start();
  std::uint16_t port() const;
  // First step of a drain: stops accepting, closes idle connections and turns not ready;
  // requests in flight go on. Idempotent.
  void stop_accepting();
  // Connections still open (in-flight requests); 0 once drained.
  std::size_t open_connections() const;
  // Uploads this gateway's view shows accepted but not yet ready or failed.
  std::size_t uploads_in_flight() const;
  // Stops accepting, stops readers and flushes the producer. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace loraplane::gateway
