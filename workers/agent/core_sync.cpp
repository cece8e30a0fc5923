// The agent's engine loop (core.hpp): every poll interval it re-reads the engine's adapters
// (an engine restart empties them; adapters it holds that the agent does not know are
// unloaded), its queue and the adapters requests run on (heat), and publishes the residency —
// the heartbeat. Changes in between publish at once (coalesced).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "common/health.hpp"
#include "common/unix_time.hpp"
#include "schema/json.hpp"
#include "workers/agent/core.hpp"

namespace loraplane::agent {

void Core::start_loops() { spawn(engine_loop(), "agent engine loop"); }

awaitable<void> Core::engine_loop() {
  bool logged_down = false;
  while (!stopping_) {
    auto refreshing = refresh_engine();
    auto st = co_await std::move(refreshing);
    if (!st && !logged_down) {
      spdlog::warn("agent {}: engine {} not reachable: {}", options_.engine_id, engine_.base_url(),
                   st.error().message);
    }
    logged_down = !st;
    // The agent's readiness is its engine's: a dead engine behind a live agent is not served.
    if (options_.register_health && ready_.load())
      health::set_ready("agent:" + options_.engine_id, static_cast<bool>(st));
    if (st) {
      auto loading = refresh_load();
      co_await std::move(loading);
    }
    if (stopping_) break;
    const bool now_ready = engine_synced_ && (!caught_up_ || caught_up_());
    if (now_ready && !ready_.exchange(true)) {
      spdlog::info("agent {}: ready (engine {}, agent {})", options_.engine_id, engine_.base_url(),
                   agent_url_);
      if (options_.register_health) health::set_ready("agent:" + options_.engine_id, true);
    }
    publish();
    poll_timer_.expires_after(options_.poll_interval);
    auto [ec] = co_await poll_timer_.async_wait(use_nothrow_awaitable);
    (void)ec;
  }
}

awaitable<Status> Core::refresh_engine() {
  const auto epoch_at_start = epoch_;
  auto listing = engine_.list_adapters();
  auto listed = co_await std::move(listing);
  if (!listed) {
    if (engine_up_) publish_soon();  // no free slots while the engine does not answer
    engine_up_ = false;
    co_return listed.error();
  }
  if (stopping_) co_return Status{};
  engine_synced_ = true;
  if (!std::exchange(engine_up_, true)) publish_soon();
  const std::string prefix = options_.base_model + ":";
  std::set<std::string> present;
  for (const auto& adapter : *listed) {
    if (!adapter.name.starts_with(prefix)) continue;  // not ours to manage
    const auto id = adapter.name.substr(prefix.size());
    auto* e = find(id);
    if (!e || e->deleted || (!e->on_disk && !e->op)) {
      if (!e || e->changed_epoch <= epoch_at_start)
        spawn(unload_orphan(adapter.name), "agent unload");
      continue;
    }
    present.insert(id);
  }
  bool changed = false;
  for (auto& [id, e] : adapters_) {
    if (e.phase != Phase::idle || e.op || e.changed_epoch > epoch_at_start || e.deleted) continue;
    const bool in_engine = present.contains(id);
    if (e.registered == in_engine) continue;
    if (e.registered)
      spdlog::warn("agent {}: the engine no longer has {} (engine restart?); it reloads on demand",
                   options_.engine_id, id);
    e.registered = in_engine;
    e.changed_epoch = ++epoch_;
    changed = true;
  }
  if (changed) publish_soon();
  co_return Status{};
}

awaitable<void> Core::refresh_load(bool heat) {
  auto reading = engine_.load_stats();
  auto stats = co_await std::move(reading);
  if (!stats) co_return;
  queue_depth_ = stats->waiting;
  const std::string prefix = options_.base_model + ":";
  for (auto& [id, e] : adapters_) e.engine_busy = false;
  for (const auto& name : stats->active) {
    if (!name.starts_with(prefix)) continue;
    // Requests in flight on an adapter count toward its heat (a fraction of an ensure, as one
    // request may span many polls).
    if (auto* e = find(name.substr(prefix.size()))) {
      if (heat) touch(*e, 0.25);
      e->engine_busy = true;
    }
  }
}

void Core::publish_soon() {
  if (publish_pending_ || stopping_) return;
  publish_pending_ = true;
  asio::post(io_, [self = shared_from_this()] {
    self->publish_pending_ = false;
    if (!self->stopping_) self->publish();
  });
}

schema::Residency Core::snapshot() {
  schema::Residency r;
  r.engine_id = options_.engine_id;
  r.base_model = options_.base_model;
  r.url = engine_.base_url();
  r.agent_url = agent_url_;
  std::vector<const Entry*> registered;
  std::uint64_t disk_bytes = 0;
  for (const auto& [id, e] : adapters_) {
    if (e.info.adapter_id.empty()) continue;
    disk_bytes += e.on_disk ? e.disk_bytes : 0;
    if (e.phase != Phase::idle) {
      r.loading.push_back(id);
    } else if (e.registered) {
      registered.push_back(&e);
    } else if (e.on_disk && !e.deleted) {
      r.disk.push_back(id);
    }
  }
  // The engine's GPU slots are invisible through vLLM's API: the most recently used registered
  // adapters up to max_loras stand for them, the rest are in host memory.
  std::stable_sort(registered.begin(), registered.end(),
                   [](const Entry* a, const Entry* b) { return a->last_used > b->last_used; });
  for (std::size_t i = 0; i < registered.size(); ++i)
    (i < options_.max_loras ? r.gpu : r.cpu).push_back(registered[i]->info.adapter_id);
  const auto used = slots_used();
  r.free_slots =
      engine_up_ && used < options_.slots() ? static_cast<int>(options_.slots() - used) : 0;
  r.queue_depth = queue_depth_;
  r.heartbeat_at_ms = unix_now_ms();
  metrics_.gpu.Set(static_cast<double>(r.gpu.size()));
  metrics_.cpu.Set(static_cast<double>(r.cpu.size()));
  metrics_.disk.Set(static_cast<double>(r.disk.size()));
  metrics_.loading.Set(static_cast<double>(r.loading.size()));
  metrics_.free_slots.Set(r.free_slots);
  metrics_.disk_bytes.Set(static_cast<double>(disk_bytes));
  return r;
}

void Core::publish() {
  auto r = snapshot();
  {
    std::lock_guard lock(snapshot_mu_);
    last_ = r;
  }
  metrics_.engine_up.Set(engine_up_ ? 1 : 0);
  // No heartbeat for an engine that does not answer: gateways skip it once the last one is
  // stale, instead of sending requests (and ensures) to it first. The first answer after
  // that publishes at once.
  if (!producer_ || agent_url_.empty() || !engine_up_) return;
  producer_->produce(
      kafka::kResidency, r.engine_id, schema::to_json(r), {}, [id = r.engine_id](const Status& st) {
        if (!st) spdlog::debug("agent {}: residency not published: {}", id, st.error().message);
      });
}

}  // namespace loraplane::agent
