// The residency-aware router: picks an engine of a base model's pool for one request from the
// engines' published residency (loraplane.residency). Pure: no I/O, no clock of its own (every
// call takes `now_ms`, unix milliseconds) and no locking, so a routing simulation can drive the
// same code with a simulated clock. The gateway wraps it with a mutex (SharedRouter).
//
// Rules, in order:
//  - Pool: engines whose residency names the base model; engines whose last heartbeat is older
//    than `stale_after_ms` are skipped (and shown unhealthy), as is the one excluded engine of
//    a retry.
//  - Load per engine = the reported queue depth plus the requests this router has sent there
//    (net of those it saw finish) since that report, and at least this router's requests in
//    flight there: a record up to a heartbeat old does not hide a queue that has since drained
//    or grown.
//  - Score per engine = placement points - queue_penalty × load, where placement points rank
//    GPU-resident > CPU-cached > loading > on local disk > free slot > eviction (cheaper when
//    fewer requests are queued per resident adapter); a choice that needs a load also loses
//    `loader_busy_penalty` per load already under way on that engine (its agent loads one
//    adapter at a time). Equal scores break by rendezvous hash of (adapter id, engine id), so
//    an adapter sticks to the same engines on every gateway.
//  - Affinity with bounded spread: if some engines hold the adapter (GPU, CPU or loading), the
//    best holder whose load is under `spill_queue_depth` wins. Only when every holder is at
//    that depth or deeper, and while the adapter has fewer holders than its replica bound, the
//    best non-holder with at least `spill_margin` fewer queued than the best holder takes the
//    request (outcome spill) and becomes a holder; otherwise the best holder keeps it.
//  - Replica bound by traffic share: the router keeps decayed request counts per adapter and
//    per base model, with a slow (`rate_half_life_ms`) and a fast (`fast_rate_half_life_ms`)
//    half-life; an adapter's share s is the larger of the two. It may hold up to
//    max(`max_replicas`, ceil(`replica_share_factor` × s × healthy engines)) engines: a hot
//    adapter spreads as far as its traffic needs (within a second of becoming hot), a cold one
//    stays within a few engines so the others keep their slots for other adapters.
//  - A decision that needs a load (miss or spill) marks the adapter pending on that engine for
//    `pending_ttl_ms`, counted as loading, so concurrent requests converge on the same engine
//    before the agent's next residency record arrives.
//  - Eviction order: the router keeps, per engine, a decayed count (`evict_half_life_ms`) of the
//    requests it sent there for each adapter. A decision that needs a load carries the engine's
//    loaded adapters (GPU and CPU), those this router sent the fewest recent requests first
//    (ties: least recently used first, as the agent lists them); the gateway passes it to the
//    agent's ensure, whose eviction takes the first of them it can unload. An agent alone only
//    sees its ensures and a sample of the engine's running requests; the gateway sees every
//    request, so a one-off adapter makes room for the next one instead of pushing out a busy one.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "schema/types.hpp"

namespace loraplane::gateway::router {

struct RouterOptions {
  std::int64_t stale_after_ms = 5000;
  std::int64_t gpu_points = 1000;
  std::int64_t cpu_points = 800;
  std::int64_t loading_points = 600;
  std::int64_t disk_points = 500;
  std::int64_t free_slot_points = 300;
  std::int64_t eviction_points = 200;  // at most; less as queued requests per adapter grow
  std::int64_t queue_penalty = 10;     // points per queued request
  std::int64_t loader_busy_penalty = 30;  // points per load under way, for a choice that loads
  int spill_queue_depth = 8;
  int spill_margin = 4;
  std::size_t max_replicas = 4;        // the bound for an adapter with a small traffic share
  double replica_share_factor = 2.0;   // engines per unit of traffic share beyond that
  std::int64_t rate_half_life_ms = 10000;
  std::int64_t fast_rate_half_life_ms = 1000;
  std::int64_t pending_ttl_ms = 10000;
  std::int64_t evict_half_life_ms = 3000;  // of the per-engine request counts behind evict_order
  std::size_t evict_order_max = 8;         // adapters named in a decision's evict_order
};

enum class Outcome { hit, miss, spill, no_engine };
std::string_view to_string(Outcome outcome);

// Where an adapter is on one engine.
enum class Placement { gpu, cpu, loading, disk, none };
std::string_view to_string(Placement placement);

struct Decision {
  Outcome outcome = Outcome::no_engine;
  std::string engine_id;
  std::string url;        // the engine's OpenAI server
  std::string agent_url;  // its agent (ensure)
  Placement placement = Placement::none;
  // The adapter must be loaded first: ask the agent to ensure it (miss or spill).
  bool needs_ensure = false;
  // With needs_ensure: the engine's loaded adapters to evict first, coldest first (see above).
  std::vector<std::string> evict_order;
};

// One engine as the router sees it (GET /admin/v1/engines): its last record, with the adapter
// lists as route() places them (less what evicted() struck out, plus the loads this router
// started that the record does not show yet) and queue_depth as the load route() weighs.
struct EngineSnapshot {
  schema::Residency residency;
  bool healthy = false;
  std::int64_t heartbeat_age_ms = 0;
  int in_flight = 0;
};

// Rendezvous (highest random weight) hash of (key, engine): stable across processes and builds.
std::uint64_t rendezvous_hash(std::string_view key, std::string_view engine_id);

class Router {
 public:
  explicit Router(RouterOptions options = {});

  // A residency record received at `received_ms`. Its heartbeat counts from the earlier of
  // heartbeat_at_ms and the receipt (an agent clock running ahead cannot keep a dead engine
  // alive; an old record read at start-up is stale at once).
  void update(schema::Residency residency, std::int64_t received_ms);
  void remove(std::string_view engine_id);

  // Chooses an engine for `adapter_id` (empty: the bare base model) in `base_model`'s pool.
  Decision route(std::string_view base_model, std::string_view adapter_id, std::int64_t now_ms,
                 std::string_view exclude_engine = {});

  // The engine answered 404 for the adapter: it no longer holds it, whatever its last record
  // says. Until the engine's next record, route() treats the adapter as absent there, so the
  // retry goes to another holder or loads it with an evict order like any miss.
  void evicted(std::string_view engine_id, std::string_view adapter_id);

  // Requests this router has sent to an engine and not seen finish.
  void begin_request(std::string_view engine_id);
  void end_request(std::string_view engine_id);

  std::vector<EngineSnapshot> snapshot(std::int64_t now_ms) const;
  std::size_t engine_count() const { return engines_.size(); }
  const RouterOptions& options() const { return options_; }

 private:
  // Lookups by string_view without building a std::string (route() runs per request).
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename T>
  using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

  // A decayed count of requests (one half-life).
  struct Heat {
    double count = 0;
    std::int64_t at_ms = 0;
    double at(std::int64_t now_ms, std::int64_t half_life_ms) const;
  };
  struct Engine {
    schema::Residency residency;
    std::int64_t heartbeat_ms = 0;  // effective, see update()
    StringMap<Placement> placement;
    StringMap<std::int64_t> pending;  // adapter → expiry (ms)
    // Requests this router sent here, per adapter held or pending (pruned on update).
    StringMap<Heat> sent;
    int in_flight = 0;
    int in_flight_at_report = 0;  // in_flight when the last record arrived
  };
  struct Candidate {
    Engine* engine = nullptr;
    Placement placement = Placement::none;
    std::int64_t score = 0;
    std::uint64_t hash = 0;
    int load = 0;
  };

  bool healthy(const Engine& engine, std::int64_t now_ms) const;
  Placement placement_of(const Engine& engine, std::string_view adapter_id,
                         std::int64_t now_ms) const;
  std::int64_t points(const Engine& engine, Placement placement) const;
  static int load_of(const Engine& engine);
  static bool holds(Placement placement);
  static int loads_under_way(const Engine& engine);
  static bool better(const Candidate& a, const Candidate& b);
  Decision decide(const Candidate& chosen, Outcome outcome, std::string_view adapter_id,
                  std::int64_t now_ms);
  std::vector<std::string> evict_order(const Engine& engine, std::string_view adapter_id,
                                       std::int64_t now_ms) const;
  // Counts one request for the adapter; returns its share of its base model's recent requests.
  double record_share(std::string_view base_model, std::string_view adapter_id, std::int64_t now_ms);

  // Exponentially decayed counts of requests, with the slow and the fast half-life.
  struct Rate {
    double slow = 0;
    double fast = 0;
    std::int64_t at_ms = 0;
    void decay_to(std::int64_t now_ms, const RouterOptions& options);
  };

  RouterOptions options_;
  std::map<std::string, Engine, std::less<>> engines_;
  StringMap<Rate> adapter_rate_;  // "base\nadapter" → rate
  StringMap<Rate> base_rate_;
  std::string key_;  // record_share's lookup key, reused
  std::uint64_t routed_ = 0;  // every 4096 routes, adapters with no recent requests are dropped
};

}  // namespace loraplane::gateway::router
