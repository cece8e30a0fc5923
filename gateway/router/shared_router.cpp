#include "gateway/router/shared_router.hpp"

#include <spdlog/spdlog.h>

#include "common/metrics.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway::router {

namespace {

prometheus::Family<prometheus::Counter>& decisions() {
  static auto& family = prometheus::BuildCounter()
                            .Name("loraplane_router_decisions_total")
                            .Help(
                                "Routing decisions by outcome: hit (adapter resident on the "
                                "chosen engine), miss (load needed), spill (a hot adapter "
                                "spread to another engine), no_engine (pool empty)")
                            .Register(metrics::registry());
  return family;
}

}  // namespace

void count_decision(Outcome outcome) {
  decisions().Add({{"outcome", std::string(to_string(outcome))}}).Increment();
}

SharedRouter::SharedRouter(RouterOptions options) : router_(options) {
  for (auto o : {Outcome::hit, Outcome::miss, Outcome::spill, Outcome::no_engine})
    decisions().Add({{"outcome", std::string(to_string(o))}});
}

void SharedRouter::apply(std::string_view engine_id, std::optional<std::string_view> value,
                         std::int64_t received_ms) {
  if (!value) {
    std::lock_guard lock(mutex_);
    router_.remove(engine_id);
    return;
  }
  auto parsed = schema::parse<schema::Residency>(*value);
  if (!parsed) {
    spdlog::warn("residency: skipping malformed record {}: {}", engine_id, parsed.error().message);
    return;
  }
  if (parsed.value().engine_id != engine_id) {
    spdlog::warn("residency: record key {} names engine {}; skipped", engine_id,
                 parsed.value().engine_id);
    return;
  }
  update(std::move(parsed.value()), received_ms);
}

void SharedRouter::update(schema::Residency residency, std::int64_t received_ms) {
  std::lock_guard lock(mutex_);
  router_.update(std::move(residency), received_ms);
}

Decision SharedRouter::route(std::string_view base_model, std::string_view adapter_id,
                             std::int64_t now_ms, std::string_view exclude_engine) {
  Decision d;
  {
    std::lock_guard lock(mutex_);
    d = router_.route(base_model, adapter_id, now_ms, exclude_engine);
  }
  count_decision(d.outcome);
  return d;
}

void SharedRouter::evicted(std::string_view engine_id, std::string_view adapter_id) {
  std::lock_guard lock(mutex_);
  router_.evicted(engine_id, adapter_id);
}

void SharedRouter::begin_request(std::string_view engine_id) {
  std::lock_guard lock(mutex_);
  router_.begin_request(engine_id);
}

void SharedRouter::end_request(std::string_view engine_id) {
  std::lock_guard lock(mutex_);
  router_.end_request(engine_id);
}

std::vector<EngineSnapshot> SharedRouter::snapshot(std::int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  return router_.snapshot(now_ms);
}

}  // namespace loraplane::gateway::router
