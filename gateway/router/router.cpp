#include "gateway/router/router.hpp"

#include <algorithm>
#include <iterator>

namespace loraplane::gateway::router {

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::hit:
      return "hit";
    case Outcome::miss:
      return "miss";
    case Outcome::spill:
      return "spill";
    case Outcome::no_engine:
      break;
  }
  return "no_engine";
}

std::string_view to_string(Placement placement) {
  switch (placement) {
    case Placement::gpu:
      return "gpu";
    case Placement::cpu:
      return "cpu";
    case Placement::loading:
      return "loading";
    case Placement::disk:
      return "disk";
    case Placement::none:
      break;
  }
  return "none";
}

std::uint64_t rendezvous_hash(std::string_view key, std::string_view engine_id) {
  // FNV-1a over key, a separator and the engine id, then the splitmix64 finaliser so that
  // engine ids differing in one character still spread uniformly.
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  mix(key);
  h ^= 0xff;
  h *= 1099511628211ULL;
  mix(engine_id);
  h += 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

Router::Router(RouterOptions options) : options_(options) {}

void Router::update(schema::Residency residency, std::int64_t received_ms) {
  auto& engine = engines_[residency.engine_id];
  engine.heartbeat_ms = residency.heartbeat_at_ms > 0
                            ? std::min(residency.heartbeat_at_ms, received_ms)
                            : received_ms;
  engine.placement.clear();
  // Weakest first, so an adapter listed twice keeps its best placement.
  for (const auto& id : residency.disk) engine.placement[id] = Placement::disk;
  for (const auto& id : residency.loading) engine.placement[id] = Placement::loading;
  for (const auto& id : residency.cpu) engine.placement[id] = Placement::cpu;
  for (const auto& id : residency.gpu) engine.placement[id] = Placement::gpu;
  for (auto it = engine.pending.begin(); it != engine.pending.end();) {
    auto found = engine.placement.find(it->first);
    bool loaded = found != engine.placement.end() &&
                  (found->second == Placement::gpu || found->second == Placement::cpu);
    if (loaded || it->second <= received_ms)
      it = engine.pending.erase(it);
    else
      ++it;
  }
  // Keep request counts only for adapters the engine holds or is about to: bounded by its slots.
  for (auto it = engine.sent.begin(); it != engine.sent.end();) {
    auto found = engine.placement.find(it->first);
    bool kept = (found != engine.placement.end() && holds(found->second)) ||
                engine.pending.contains(it->first);
    it = kept ? std::next(it) : engine.sent.erase(it);
  }
  engine.residency = std::move(residency);
  engine.in_flight_at_report = engine.in_flight;
}

void Router::remove(std::string_view engine_id) {
  auto it = engines_.find(engine_id);
  if (it != engines_.end()) engines_.erase(it);
}

bool Router::healthy(const Engine& engine, std::int64_t now_ms) const {
  return now_ms - engine.heartbeat_ms <= options_.stale_after_ms;
}

void Router::evicted(std::string_view engine_id, std::string_view adapter_id) {
  auto it = engines_.find(engine_id);
  if (it == engines_.end()) return;
  Engine& engine = it->second;
  if (auto found = engine.placement.find(adapter_id); found != engine.placement.end())
    engine.placement.erase(found);
  if (auto found = engine.pending.find(adapter_id); found != engine.pending.end())
    engine.pending.erase(found);
}

Placement Router::placement_of(const Engine& engine, std::string_view adapter_id,
                               std::int64_t now_ms) const {
  auto found = engine.placement.find(adapter_id);
  Placement p = found == engine.placement.end() ? Placement::none : found->second;
  if (p == Placement::gpu || p == Placement::cpu || p == Placement::loading) return p;
  auto pending = engine.pending.find(adapter_id);
  if (pending != engine.pending.end() && pending->second > now_ms) return Placement::loading;
  return p;
}

int Router::load_of(const Engine& engine) {
  const int sent_since_report = engine.in_flight - engine.in_flight_at_report;
  return std::max(engine.in_flight, engine.residency.queue_depth + sent_since_report);
}

bool Router::holds(Placement placement) {
  return placement == Placement::gpu || placement == Placement::cpu ||
         placement == Placement::loading;
}

int Router::loads_under_way(const Engine& engine) {
  // From the shared record only (not this router's pending marks), so that every gateway with
  // the same view sends a cold adapter to the same engine.
  return static_cast<int>(engine.residency.loading.size());
}

std::int64_t Router::points(const Engine& engine, Placement placement) const {
  switch (placement) {
    case Placement::gpu:
      return options_.gpu_points;
    case Placement::cpu:
      return options_.cpu_points;
    case Placement::loading:
      return options_.loading_points;
    case Placement::disk:
      return options_.disk_points;
    case Placement::none:
      break;
  }
  if (engine.residency.free_slots > 0) return options_.free_slot_points;
  // Every slot is taken: a load evicts the least recently used adapter, which is more likely
  // still in use the more requests are queued per resident adapter.
  const auto resident =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(engine.residency.gpu.size()));
  const std::int64_t per_adapter = 100 * load_of(engine) / resident;
  return options_.eviction_points - std::min(options_.eviction_points, per_adapter);
}

bool Router::better(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.hash > b.hash;
}

Decision Router::decide(const Candidate& chosen, Outcome outcome, std::string_view adapter_id,
                        std::int64_t now_ms) {
  Decision d;
  d.outcome = outcome;
  d.engine_id = chosen.engine->residency.engine_id;
  d.url = chosen.engine->residency.url;
  d.agent_url = chosen.engine->residency.agent_url;
  d.placement = chosen.placement;
  d.needs_ensure = !adapter_id.empty() && chosen.placement != Placement::gpu &&
                   chosen.placement != Placement::cpu;
  if (adapter_id.empty()) return d;
  auto& counts = chosen.engine->sent;
  auto it = counts.find(adapter_id);
  if (it == counts.end()) it = counts.emplace(std::string(adapter_id), Heat{}).first;
  Heat& sent = it->second;
  sent.count = sent.at(now_ms, options_.evict_half_life_ms) + 1.0;
  sent.at_ms = std::max(sent.at_ms, now_ms);
  if (d.needs_ensure) {
    chosen.engine->pending[std::string(adapter_id)] = now_ms + options_.pending_ttl_ms;
    d.evict_order = evict_order(*chosen.engine, adapter_id, now_ms);
  }
  return d;
}

double Router::Heat::at(std::int64_t now_ms, std::int64_t half_life_ms) const {
  if (now_ms <= at_ms || half_life_ms <= 0) return count;
  return count * std::exp2(-static_cast<double>(now_ms - at_ms) / static_cast<double>(half_life_ms));
}

std::vector<std::string> Router::evict_order(const Engine& engine, std::string_view adapter_id,
                                             std::int64_t now_ms) const {
  // The agent lists GPU then CPU adapters, each most recently used first: reversed, that is
  // least recently used first, the order that breaks ties between equal counts.
  struct Loaded {
    const std::string* id;
    double heat;
  };
  std::vector<Loaded> loaded;
  const auto& r = engine.residency;
  loaded.reserve(r.gpu.size() + r.cpu.size());
  auto add = [&](const std::vector<std::string>& ids) {
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
      if (*it == adapter_id) continue;
      auto found = engine.sent.find(*it);
      loaded.push_back({&*it, found == engine.sent.end()
                                  ? 0.0
                                  : found->second.at(now_ms, options_.evict_half_life_ms)});
    }
  };
  add(r.cpu);
  add(r.gpu);
  std::stable_sort(loaded.begin(), loaded.end(),
                   [](const Loaded& a, const Loaded& b) { return a.heat < b.heat; });
  std::vector<std::string> out;
  const std::size_t n = std::min(loaded.size(), options_.evict_order_max);
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(*loaded[i].id);
  return out;
}

void Router::Rate::decay_to(std::int64_t now_ms, const RouterOptions& options) {
  if (now_ms <= at_ms) return;
  const auto elapsed = static_cast<double>(now_ms - at_ms);
  if (options.rate_half_life_ms > 0)
    slow *= std::exp2(-elapsed / static_cast<double>(options.rate_half_life_ms));
  if (options.fast_rate_half_life_ms > 0)
    fast *= std::exp2(-elapsed / static_cast<double>(options.fast_rate_half_life_ms));
  at_ms = now_ms;
}

double Router::record_share(std::string_view base_model, std::string_view adapter_id,
                            std::int64_t now_ms) {
  auto bump = [&](Rate& r) -> Rate& {
    r.decay_to(now_ms, options_);
    r.slow += 1.0;
    r.fast += 1.0;
    return r;
  };
  auto find_or_add = [](StringMap<Rate>& map, std::string_view key) -> Rate& {
    auto it = map.find(key);
    if (it == map.end()) it = map.emplace(std::string(key), Rate{}).first;
    return it->second;
  };
  key_.assign(base_model).append(1, '\n').append(adapter_id);
  const Rate& mine = bump(find_or_add(adapter_rate_, key_));
  const Rate& all = bump(find_or_add(base_rate_, base_model));
  const double share = std::max(all.slow > 0 ? mine.slow / all.slow : 1.0,
                                all.fast > 0 ? mine.fast / all.fast : 1.0);
  if (++routed_ % 4096 == 0) {
    for (auto it = adapter_rate_.begin(); it != adapter_rate_.end();) {
      Rate r = it->second;
      r.decay_to(now_ms, options_);
      it = r.slow < 0.01 ? adapter_rate_.erase(it) : std::next(it);
    }
  }
  return share;
}

Decision Router::route(std::string_view base_model, std::string_view adapter_id,
                       std::int64_t now_ms, std::string_view exclude_engine) {
  const double share = adapter_id.empty() ? 0.0 : record_share(base_model, adapter_id, now_ms);
  // The best holder under the spill depth, the best holder at all, the best non-holder.
  std::optional<Candidate> best_open_holder, best_holder, best_other;
  std::size_t holders = 0, pool = 0;
  for (auto& [id, engine] : engines_) {
    if (engine.residency.base_model != base_model || id == exclude_engine) continue;
    if (!healthy(engine, now_ms)) continue;
    ++pool;
    Candidate c;
    c.engine = &engine;
    c.load = load_of(engine);
    c.hash = rendezvous_hash(adapter_id, id);
    if (adapter_id.empty()) {
      c.placement = Placement::gpu;  // the base model is always there
      c.score = -options_.queue_penalty * c.load;
    } else {
      c.placement = placement_of(engine, adapter_id, now_ms);
      c.score = points(engine, c.placement) - options_.queue_penalty * c.load;
      if (!holds(c.placement))  // choosing it starts a load
        c.score -= options_.loader_busy_penalty * loads_under_way(engine);
    }
    const bool held = holds(c.placement);
    auto& slot = held ? best_holder : best_other;
    if (held) ++holders;
    if (!slot || better(c, *slot)) slot = c;
    if (held && c.load < options_.spill_queue_depth &&
        (!best_open_holder || better(c, *best_open_holder)))
      best_open_holder = c;
  }
  if (!best_holder && !best_other) return Decision{};
  if (!best_holder) return decide(*best_other, Outcome::miss, adapter_id, now_ms);
  const auto resident = [](const Candidate& c) {
    return c.placement == Placement::gpu || c.placement == Placement::cpu;
  };
  if (best_open_holder)
    return decide(*best_open_holder, resident(*best_open_holder) ? Outcome::hit : Outcome::miss,
                  adapter_id, now_ms);
  // Every holder is queued at least spill_queue_depth deep.
  const auto by_share = static_cast<std::size_t>(
      std::ceil(options_.replica_share_factor * share * static_cast<double>(pool)));
  const std::size_t replica_bound = std::max(options_.max_replicas, by_share);
  if (holders < replica_bound && best_other &&
      best_other->load + options_.spill_margin <= best_holder->load)
    return decide(*best_other, Outcome::spill, adapter_id, now_ms);
  return decide(*best_holder, resident(*best_holder) ? Outcome::hit : Outcome::miss, adapter_id,
                now_ms);
}

void Router::begin_request(std::string_view engine_id) {
  auto it = engines_.find(engine_id);
  if (it != engines_.end()) ++it->second.in_flight;
}

void Router::end_request(std::string_view engine_id) {
  auto it = engines_.find(engine_id);
  if (it != engines_.end() && it->second.in_flight > 0) --it->second.in_flight;
}

std::vector<EngineSnapshot> Router::snapshot(std::int64_t now_ms) const {
  std::vector<EngineSnapshot> out;
  out.reserve(engines_.size());
  for (const auto& [id, engine] : engines_) {
    EngineSnapshot s;
    const auto& record = engine.residency;
    s.residency = record;
    for (auto* list : {&s.residency.gpu, &s.residency.cpu, &s.residency.disk,
                       &s.residency.loading})
      list->clear();
    // The adapters where route() places them: the record's lists in its own order, less what
    // evicted() struck out, plus the loads this router started and the record does not show yet.
    auto keep = [&](const std::vector<std::string>& ids, Placement placement,
                    std::vector<std::string>& into) {
      for (const auto& adapter : ids)
        if (placement_of(engine, adapter, now_ms) == placement) into.push_back(adapter);
    };
    keep(record.gpu, Placement::gpu, s.residency.gpu);
    keep(record.cpu, Placement::cpu, s.residency.cpu);
    keep(record.disk, Placement::disk, s.residency.disk);
    keep(record.loading, Placement::loading, s.residency.loading);
    std::vector<std::string> started;
    for (const auto& [adapter, expiry] : engine.pending) {
      auto found = engine.placement.find(adapter);
      bool listed = found != engine.placement.end() && found->second != Placement::disk;
      if (!listed && expiry > now_ms) started.push_back(adapter);
    }
    std::sort(started.begin(), started.end());
    s.residency.loading.insert(s.residency.loading.end(), started.begin(), started.end());
    s.residency.queue_depth = load_of(engine);  // the queue route() weighs
    s.healthy = healthy(engine, now_ms);
    s.heartbeat_age_ms = std::max<std::int64_t>(0, now_ms - engine.heartbeat_ms);
    s.in_flight = engine.in_flight;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace loraplane::gateway::router
