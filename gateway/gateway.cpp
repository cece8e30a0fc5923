#include "gateway/inference/tenant_inflight.hpp"
#include "gateway/gateway.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>

#include "common/health.hpp"
#include "common/http.hpp"
#include "common/ops_routes.hpp"
#include "common/sha256.hpp"
#include "common/unix_time.hpp"
#include "gateway/adapters/handlers.hpp"
#include "gateway/adapters/upload_slots.hpp"
#include "gateway/admin/handlers.hpp"
#include "gateway/context.hpp"
#include "gateway/errors.hpp"
#include "gateway/inference/handlers.hpp"
#include "gateway/router/shared_router.hpp"
#include "gateway/tenant_directory.hpp"

namespace loraplane::gateway {

namespace {
constexpr const char* kRole = "gateway";

// The router's clock. It judges engines by the age of their last heartbeat, and heartbeats
// come through Kafka: while this gateway cannot reach the brokers, that age says nothing about
// the engines, so the clock stands still and inference goes on from the residency last seen.
// Once the brokers are back, the outage is not counted for a grace period in which fresh
// heartbeats are read again; after it, the real clock.
class ResidencyClock {
 public:
  static constexpr std::int64_t kGraceMs = 10000;
  explicit ResidencyClock(const kafka::Producer& producer) : producer_(producer) {}
  std::int64_t now_ms() {
    const auto now = unix_now_ms();
    std::lock_guard lock(mutex_);
    if (!producer_.brokers_reachable()) {
      if (down_since_ == 0) {
        down_since_ = now;
        spdlog::warn("gateway: Kafka unreachable; routing from the residency last seen");
      }
      return down_since_ - paused_;
    }
    if (down_since_ != 0) {
      paused_ += now - down_since_;
      down_since_ = 0;
      back_at_ = now;
      spdlog::info("gateway: Kafka reachable again");
    }
    if (paused_ != 0 && now - back_at_ > kGraceMs) paused_ = 0;
    return now - paused_;
  }

 private:
  const kafka::Producer& producer_;
  std::mutex mutex_;
  std::int64_t down_since_ = 0;
  std::int64_t paused_ = 0;
  std::int64_t back_at_ = 0;
};
}  // namespace

struct Gateway::Impl {
  asio::io_context& io;
  const kafka::Cluster& cluster;
  GatewayOptions options;
  TenantDirectory tenants;
  AdapterDirectory adapters;
  router::SharedRouter routing;
  inference::UpstreamPool upstream;
  inference::TenantInflight inflight;
  adapters::UploadSlots upload_slots;
  std::unique_ptr<kafka::Producer> producer;
  std::unique_ptr<ResidencyClock> residency_clock;
  std::unique_ptr<GatewayContext> context;
  std::unique_ptr<kafka::Consumer> tenant_reader;
  std::unique_ptr<kafka::Consumer> adapter_reader;
  std::unique_ptr<kafka::Consumer> residency_reader;
  std::unique_ptr<http::Server> server;
  asio::steady_timer ready_timer{io};
  bool stopped = false;
  // The tenant and adapter tables have been read up to where they stood at start: until then
  // a valid key or an existing adapter would look unknown (401, 404, an empty list).
  std::atomic<bool> loaded{false};

  Impl(asio::io_context& io_, const kafka::Cluster& c, GatewayOptions o)
      : io(io_), cluster(c), options(std::move(o)), routing(options.router),
        upstream(options.upstream), inflight(options.tenant_max_inflight),
        upload_slots(options.max_uploads, options.tenant_max_uploads) {}

  http::Router make_router() {
    http::Router router;
    http::add_ops_routes(router);
    admin::add_routes(router, *context);
    adapters::add_routes(router, *context);
    inference::add_routes(router, *context);
    return router;
  }

  void wait_ready() {
    if (tenant_reader->caught_up() && adapter_reader->caught_up()) {
      loaded = true;
      health::set_ready(kRole, true);
      spdlog::info("gateway ready: {} tenants loaded", tenants.tenant_count());
      return;
    }
    ready_timer.expires_after(std::chrono::milliseconds(20));
    ready_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) wait_ready();
    });
  }
};

Gateway::Gateway(asio::io_context& io, const kafka::Cluster& cluster, GatewayOptions options)
    : impl_(std::make_unique<Impl>(io, cluster, std::move(options))) {}

Gateway::~Gateway() { stop(); }

void Gateway::start() {
  auto& d = *impl_;
  health::register_role(kRole);
  kafka::ProducerOptions producer_options;
  producer_options.client_id = "loraplane-gateway";
  producer_options.watch_brokers = true;  // uploads refuse at once while Kafka is down
  d.producer = kafka::Producer::create(d.cluster, producer_options);
  d.residency_clock = std::make_unique<ResidencyClock>(*d.producer);
  d.context = std::make_unique<GatewayContext>(GatewayContext{
      d.tenants, d.adapters, *d.producer,
      d.options.admin_token.empty() ? std::string() : sha256_hex(d.options.admin_token),
      unix_now_seconds, d.options.catalog, unix_now_seconds(), &d.routing, &d.upstream,
      [clock = d.residency_clock.get()] { return clock->now_ms(); }, &d.inflight,
      &d.upload_slots, 2 * d.options.client_timeout});

  kafka::ConsumerOptions reader_options;
  reader_options.client_id = "loraplane-gateway-tenants";
  reader_options.topics = {std::string(kafka::kTenants)};
  d.tenant_reader = kafka::Consumer::start(d.cluster, reader_options, [&d](const kafka::Message& m) {
    d.tenants.apply(m.key, m.tombstone ? std::nullopt : std::optional<std::string_view>(m.value),
                    m.offset);
    return kafka::Handled::done;
  });

  reader_options.client_id = "loraplane-gateway-adapters";
  reader_options.topics = {std::string(kafka::kAdapters)};
  d.adapter_reader = kafka::Consumer::start(d.cluster, reader_options, [&d](const kafka::Message& m) {
    d.adapters.apply(m.key, m.tombstone ? std::nullopt : std::optional<std::string_view>(m.value));
    return kafka::Handled::done;
  });

  reader_options.client_id = "loraplane-gateway-residency";
  reader_options.topics = {std::string(kafka::kResidency)};
  d.residency_reader =
      kafka::Consumer::start(d.cluster, reader_options, [&d](const kafka::Message& m) {
        d.routing.apply(m.key, m.tombstone ? std::nullopt : std::optional<std::string_view>(m.value),
                       unix_now_ms());
        return kafka::Handled::done;
      });

  http::ServerOptions server_options;
  server_options.role = kRole;
  server_options.host = d.options.host;
  server_options.port = d.options.port;
  server_options.max_body_bytes = d.options.max_body_bytes;
  server_options.access_log = true;
  server_options.access_subject = [&d](const http::RequestHeader& request) {
    auto tenant = d.context->authenticate(request);
    return tenant ? tenant->id : std::string();
  };
  server_options.refuse = [&d](std::string_view path) -> std::optional<http::Response> {
    if (d.loaded.load(std::memory_order_relaxed) || path == "/healthz" || path == "/metrics")
      return std::nullopt;
    return errors::unavailable(
        "loraplane is starting: tenants and adapters are still loading; retry shortly", 1);
  };
  // A client holding its body back for `100 Continue` (curl does above 1 MiB) with a key that
  // will be refused gets its 401 now, without sending the body first. Every buffered route
  // checks a key: the admin token under /admin/, a tenant's key elsewhere.
  server_options.before_continue =
      [&d](const http::RequestHeader& request) -> std::optional<http::Response> {
    if (std::string_view(request.target()).starts_with("/admin/"))
      return d.context->require_admin(request);
    if (!d.context->authenticate(request)) return errors::invalid_api_key(request);
    return std::nullopt;
  };
  server_options.header_timeout = d.options.client_timeout;
  server_options.body_timeout = 2 * d.options.client_timeout;
  d.server = std::make_unique<http::Server>(d.io, server_options, d.make_router());
  d.server->start();
  spdlog::info("gateway listening on http://{}:{}", d.options.host, d.server->port());
  d.wait_ready();
}

std::uint16_t Gateway::port() const { return impl_->server ? impl_->server->port() : 0; }

void Gateway::stop_accepting() {
  auto& d = *impl_;
  if (d.server) d.server->stop();
  d.ready_timer.cancel();
  health::set_ready(kRole, false);
}

std::size_t Gateway::open_connections() const {
  return impl_->server ? impl_->server->open_connections() : 0;
}

std::size_t Gateway::uploads_in_flight() const { return impl_->adapters.uploads_in_flight(); }

void Gateway::stop() {
  auto& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  if (d.server) d.server->stop();
  d.ready_timer.cancel();
  if (d.tenant_reader) d.tenant_reader->stop();
  if (d.adapter_reader) d.adapter_reader->stop();
  if (d.residency_reader) d.residency_reader->stop();
  if (d.producer && !d.producer->flush(std::chrono::seconds(10)))
    spdlog::warn("gateway: producer flush timed out; undelivered messages were reported failed");
  health::set_ready(kRole, false);
}

}  // namespace loraplane::gateway
