// The gateway's router: the pure Router behind a mutex, fed by the loraplane.residency table
// reader (its own thread) and asked by the request handlers (the io thread). Also the
// loraplane_router_decisions_total counter, so every decision is counted in one place.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/router/router.hpp"

namespace loraplane::gateway::router {

class SharedRouter {
 public:
  explicit SharedRouter(RouterOptions options = {});

  // One record of loraplane.residency (key = engine id); a tombstone removes the engine.
  // Malformed records are logged and skipped.
  void apply(std::string_view engine_id, std::optional<std::string_view> value,
             std::int64_t received_ms);
  void update(schema::Residency residency, std::int64_t received_ms);
  Decision route(std::string_view base_model, std::string_view adapter_id, std::int64_t now_ms,
                 std::string_view exclude_engine = {});
  void evicted(std::string_view engine_id, std::string_view adapter_id);  // see Router
  void begin_request(std::string_view engine_id);
  void end_request(std::string_view engine_id);
  std::vector<EngineSnapshot> snapshot(std::int64_t now_ms) const;

 private:
  mutable std::mutex mutex_;
  Router router_;
};

// Counts one request that found no engine without asking the router (for symmetry in metrics).
void count_decision(Outcome outcome);

}  // namespace loraplane::gateway::router
