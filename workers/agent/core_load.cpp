// Hot-loading (core.hpp): ensure → (fetch to disk) → (free a slot) → engine load, shared by
// concurrent callers through one LoadOp; pre-warm; eviction from the engine and from disk;
// removal of deleted adapters.
#include <spdlog/spdlog.h>

#include "common/http_client.hpp"
#include "common/log.hpp"
#include "common/offload.hpp"
#include "workers/agent/core.hpp"

namespace loraplane::agent {

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

Error not_known(const std::string& id) {
  return make_error(Errc::not_found, "adapter '" + id + "' is not known to this agent");
}

awaitable<Status> wait_for(std::shared_ptr<LoadOp> op) {
  while (!op->done) {
    auto [ec] = co_await op->signal.async_wait(use_nothrow_awaitable);
    (void)ec;
  }
  co_return op->result;
}

}  // namespace

awaitable<Status> Core::ensure(std::string id, std::string request_id,
                               std::vector<std::string> evict_order) {
  metrics_.ensures.Increment();
  if (request_id.empty()) request_id = request_id_of(id);
  if (stopping_) co_return make_error(Errc::unavailable, "agent is stopping");
  auto* e = find(id);
  if (!e) {
    // A gateway can see an adapter `ready` a moment before this agent reads the same news
    // (other consumers of the same records): wait briefly before calling it unknown.
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (int i = 0; i < 100 && find(id) == nullptr && !stopping_; ++i) {
      timer.expires_after(std::chrono::milliseconds(20));
      auto [ec] = co_await timer.async_wait(use_nothrow_awaitable);
      (void)ec;
    }
    e = find(id);
  }
  if (!e || e->deleted) co_return not_known(id);
  touch(*e);
  if (e->registered) {
    // The engine may have restarted since the last check: ask it before answering "loaded".
    auto refreshing = refresh_engine();
    auto refreshed = co_await std::move(refreshing);
    if (!refreshed) co_return refreshed;
  }
  for (;;) {
    e = find(id);
    if (!e || e->deleted) co_return not_known(id);
    if (e->registered) co_return held(id, Status{});
    if (e->op) {
      auto op = e->op;
      auto waiting = wait_for(op);
      auto st = co_await std::move(waiting);
      // Shared the same load: same answer. A pre-warm whose engine load failed failed just
      // now for this caller too: a second load after one that timed out doubles the wait.
      if (op->ensure || op->engine_failed) co_return held(id, std::move(st));
      continue;  // a pre-warm ended (fetched, or it found no room): now an ensure's load
    }
    auto running = run_op(id, /*ensure=*/true, request_id, evict_order);
    co_return held(id, co_await std::move(running));
  }
}

awaitable<void> Core::prewarm(std::string id) {
  auto* e = find(id);
  if (!e || e->op || e->registered || e->deleted || stopping_) co_return;
  const std::string request_id = e->request_id;
  auto running = run_op(id, /*ensure=*/false, request_id);
  auto st = co_await std::move(running);
  if (!st)
    logging::warn({"agent", request_id}, "agent {}: pre-warm of {} failed: {}",
                  options_.engine_id, id, st.error().message);
}

awaitable<Status> Core::run_op(std::string id, bool ensure, std::string request_id,
                               std::vector<std::string> evict_order) {
  auto op = std::make_shared<LoadOp>(io_.get_executor());
  op->ensure = ensure;
  op->evict_order = std::move(evict_order);
  adapters_.at(id).op = op;
  auto loading = hot_load(id, ensure, std::move(request_id));
  auto st = co_await std::move(loading);
  if (auto* e = find(id)) {
    e->op.reset();
    e->phase = Phase::idle;
    e->slot_reserved = false;
    if (e->deleted) {
      st = not_known(id);
      spawn(remove(id), "agent remove");
    }
  }
  op->done = true;
  op->result = st;
  op->signal.cancel();
  publish_soon();
  co_return st;
}

awaitable<Status> Core::hot_load(std::string id, bool ensure, std::string request_id) {
  const auto started = Clock::now();
  auto& e = adapters_.at(id);  // not erased while its op runs
  if (!e.on_disk) {
    e.phase = Phase::fetching;
    publish_soon();
    auto fetching = fetch(id, request_id, ensure);
    auto fetched = co_await std::move(fetching);
    if (!fetched) {
      metrics_.load_failures.Increment();
      co_return fetched;
    }
  }
  if (e.deleted || stopping_) co_return not_known(id);
  if (!ensure && slots_used() >= options_.slots()) co_return Status{};  // pre-warm: disk only
  e.phase = Phase::loading;
  publish_soon();
  auto reserving = reserve_slot(id);
  if (auto reserved = co_await std::move(reserving); !reserved) {
    metrics_.load_failures.Increment();
    co_return reserved;
  }
  const auto engine_started = Clock::now();
  auto loading = engine_.load(lora_name(id), disk_.adapter_dir(id));
  auto loaded = co_await std::move(loading);
  e.slot_reserved = false;
  if (!loaded && loaded.error().code != Errc::already_exists) {
    if (e.op) e.op->engine_failed = true;
    metrics_.load_failures.Increment();
    logging::error({"agent", request_id}, "agent {}: engine load of {} failed: {}",
                   options_.engine_id, id, loaded.error().message);
    if (loaded.error().code == Errc::not_found) e.on_disk = false;  // files vanished: fetch again
    co_return make_error(
        loaded.error().code == Errc::invalid_argument ? Errc::invalid_argument : Errc::unavailable,
        loaded.error().message);
  }
  mark(e, true);
  e.last_used = Clock::now();
  metrics_.loads.Increment();
  metrics_.engine_seconds.Observe(seconds_since(engine_started));
  metrics_.total_seconds.Observe(seconds_since(started));
  logging::info({"agent", request_id}, "agent {}: loaded {} into the engine in {:.3f} s",
                options_.engine_id, id, seconds_since(started));
  co_return Status{};
}

awaitable<Status> Core::reserve_slot(std::string id) {
  const auto give_up = Clock::now() + options_.slot_wait;
  bool waited = false;
  for (;;) {
    auto& e = adapters_.at(id);  // not erased while its op runs
    e.slot_reserved = true;
    if (slots_used() <= options_.slots()) co_return Status{};
    // The gateway's choice first: it sees every request, this agent only a sample of them.
    Entry* victim = e.op ? first_evictable(e.op->evict_order, id) : nullptr;
    const std::string_view why = victim ? "coldest by the gateway's traffic" : "coldest";
    if (!victim) victim = coldest_registered(id);
    if (victim) {
      auto evicting = evict(victim->info.adapter_id, why);
      co_await std::move(evicting);
      continue;
    }
    // Every slot is held by a load in progress or by an adapter an ensure just answered for.
    // Within the engine's load time or the hold one becomes evictable: wait for that (bounded)
    // rather than send the caller away. A waiter holds no slot, or waiters alone would fill
    // every slot.
    e.slot_reserved = false;
    auto waiting = wait_step(id, give_up, waited, metrics_.slot_waits,
                             "every adapter slot of the engine stayed busy (loading, or just "
                             "handed to callers)");
    if (auto refused = co_await std::move(waiting)) co_return *refused;
  }
}

awaitable<std::optional<Status>> Core::wait_step(std::string id, Clock::time_point give_up,
                                                 bool& waited, prometheus::Counter& waits,
                                                 std::string_view held) {
  const Entry* e = find(id);
  if (!e || e->deleted || stopping_)
    co_return make_error(Errc::unavailable, "the agent stopped or the adapter was deleted");
  if (Clock::now() >= give_up)
    co_return make_error(Errc::unavailable, std::string(held) + " for " +
                                                std::to_string(options_.slot_wait.count()) + " ms");
  if (!std::exchange(waited, true)) waits.Increment();
  asio::steady_timer pause(io_);
  pause.expires_after(std::min<Clock::duration>(std::chrono::milliseconds(20),
                                                give_up - Clock::now()));
  auto [ec] = co_await pause.async_wait(use_nothrow_awaitable);
  (void)ec;
  co_return std::nullopt;
}

awaitable<void> Core::evict(std::string id, std::string_view why) {
  auto* e = find(id);
  if (!e || !e->registered) co_return;
  mark(*e, false);
  metrics_.engine_evictions.Increment();
  const std::string request_id = e->request_id;
  logging::info({"agent", request_id}, "agent {}: evicting {} from the engine ({})",
                options_.engine_id, id, why);
  auto unloading = engine_.unload(lora_name(id));
  auto st = co_await std::move(unloading);
  if (!st && st.error().code != Errc::not_found)
    logging::warn({"agent", request_id}, "agent {}: unload of {} failed: {}", options_.engine_id,
                  id, st.error().message);
}

std::uint64_t Core::disk_used() const {
  std::uint64_t n = disk_reserved_;
  for (const auto& [_, e] : adapters_) n += e.on_disk ? e.disk_bytes : 0;
  return n;
}

Status Core::make_disk_room(const std::string& id, std::uint64_t bytes) {
  if (bytes > options_.disk_budget_bytes)
    return make_error(Errc::limit_exceeded, "adapter " + id + " (" + std::to_string(bytes) +
                                                " bytes) exceeds the disk budget");
  while (disk_used() + bytes > options_.disk_budget_bytes) {
    Entry* victim = lru_on_disk(id);
    if (!victim)
      return make_error(Errc::unavailable, "disk budget full of registered or loading adapters");
    logging::info({"agent", victim->request_id},
                  "agent {}: removing {} from disk (budget, least recently used)",
                  options_.engine_id, victim->info.adapter_id);
    disk_.remove_adapter(victim->info.adapter_id);
    victim->on_disk = false;
    victim->disk_bytes = 0;
    metrics_.disk_evictions.Increment();
  }
  return {};
}

awaitable<Status> Core::disk_room(std::string id, std::uint64_t bytes, bool ensure) {
  const auto give_up = Clock::now() + options_.slot_wait;
  bool waited = false;
  for (int round = 0;; ++round) {
    // Files are removed to make room only for adapters without requests at the engine: ask
    // it now (and every half second of a wait) rather than trust the last poll.
    if (disk_used() + bytes > options_.disk_budget_bytes && round % 25 == 0)
      co_await refresh_load(false);
    auto room = make_disk_room(id, bytes);
    if (room || room.error().code != Errc::unavailable || !ensure) co_return room;
    // The rest is held by adapters in the engine: one without requests there leaves it, as it
    // would for a slot (the gateway's choice first, then the coldest), and its files can go.
    const Entry* self = find(id);
    Entry* victim = self && self->op
                        ? first_evictable(self->op->evict_order, id, /*idle_only=*/true)
                        : nullptr;
    const std::string_view why =
        victim ? "disk budget, coldest by the gateway's traffic" : "disk budget";
    if (!victim) victim = coldest_registered(id, /*idle_only=*/true);
    if (victim) {
      auto evicting = evict(victim->info.adapter_id, why);
      co_await std::move(evicting);
      continue;
    }
    // Held by downloads and loads in progress, or by adapters with requests at the engine:
    // one of them is done within its load time or its requests.
    auto waiting = wait_step(id, give_up, waited, metrics_.disk_waits,
                             "the disk budget stayed held by adapters loading or in use");
    if (auto refused = co_await std::move(waiting)) co_return *refused;
  }
}

awaitable<Status> Core::fetch(std::string id, std::string request_id, bool ensure) {
  const auto info = adapters_.at(id).info;  // the event may be replaced while we download
  if (!info.adapter_config)
    co_return make_error(Errc::invalid_argument, "adapter " + id + " has no adapter_config");
  auto making_room = disk_room(id, info.size_bytes, ensure);
  if (auto room = co_await std::move(making_room); !room) co_return room;
  auto& e = adapters_.at(id);  // not erased while its op runs
  disk_reserved_ += info.size_bytes;
  Status last = make_error(Errc::unavailable, "adapter " + id + " has no storage url");
  for (const auto& storage_url : info.storage_urls) {
    auto temp = disk_.temp_dir(id);
    if (!temp) {
      last = temp.error();
      break;
    }
    const auto started = Clock::now();
    const auto url = blob_url(storage_url, info.sha256);
    http::DownloadOptions download_options;
    download_options.client.timeout = options_.fetch_idle_timeout;
    download_options.max_bytes = info.size_bytes;
    download_options.sync = false;  // make_durable() writes it out after the install
    auto downloading = http::download(url, (*temp / kWeightsFile).string(), download_options);
    auto got = co_await std::move(downloading);
    if (got && got->status == 200 && got->sha256 == info.sha256 && got->bytes == info.size_bytes) {
      metrics_.fetch_seconds.Observe(seconds_since(started));
      const auto disk_started = Clock::now();
      const auto temp_dir = *temp;
      const auto& config = *info.adapter_config;
      auto installing =
          offload([this, &temp_dir, &id, &config] { return disk_.install(temp_dir, id, config); });
      auto installed = co_await std::move(installing);
      metrics_.disk_seconds.Observe(seconds_since(disk_started));
      if (installed) {
        spawn(make_durable(id), "agent make_durable");
        disk_reserved_ -= info.size_bytes;
        e.on_disk = true;
        e.disk_bytes = info.size_bytes;
        e.last_used = Clock::now();
        logging::info({"agent", request_id}, "agent {}: fetched {} ({} bytes) from {} in {:.3f} s",
                      options_.engine_id, id, info.size_bytes, storage_url,
                      seconds_since(started));
        co_return Status{};
      }
      last = installed;
    } else if (!got) {
      last = got.error();
    } else if (got->status != 200) {
      last = make_error(Errc::unavailable, url + " answered " + std::to_string(got->status));
    } else {
      last = make_error(Errc::corrupt, "sha256 mismatch: got " + std::to_string(got->bytes) +
                                           " bytes with sha256 " + got->sha256 + ", expected " +
                                           std::to_string(info.size_bytes) + " bytes with " +
                                           info.sha256);
    }
    metrics_.fetch_failures.Increment();
    logging::error({"agent", request_id}, "agent {}: fetching {} from {} failed: {}",
                   options_.engine_id, id, url, last.error().message);
    disk_.remove_temp(*temp);
  }
  disk_reserved_ -= info.size_bytes;
  co_return last;
}

awaitable<void> Core::make_durable(std::string id) {
  auto syncing = offload([this, &id] { return disk_.make_durable(id); });
  if (auto st = co_await std::move(syncing); !st)
    spdlog::warn("agent {}: writing out {}: {} (checked again at the next start)",
                 options_.engine_id, id, st.error().message);
}

awaitable<void> Core::remove(std::string id) {
  auto* e = find(id);
  if (!e || e->op) co_return;
  const bool registered = e->registered;
  const std::string request_id = e->request_id;
  e->registered = false;
  e->changed_epoch = ++epoch_;
  if (registered) {
    auto unloading = engine_.unload(lora_name(id));
    auto st = co_await std::move(unloading);
    if (!st && st.error().code != Errc::not_found)
      logging::warn({"agent", request_id}, "agent {}: unload of deleted {} failed: {}",
                    options_.engine_id, id, st.error().message);
  }
  disk_.remove_adapter(id);
  adapters_.erase(id);
  logging::info({"agent", request_id}, "agent {}: removed deleted adapter {}", options_.engine_id,
                id);
  publish_soon();
}

awaitable<void> Core::unload_orphan(std::string name) {
  if (!unloading_.insert(name).second) co_return;
  spdlog::info("agent {}: unloading {} (not a known adapter of this agent)", options_.engine_id,
               name);
  auto unloading = engine_.unload(name);
  auto st = co_await std::move(unloading);
  if (!st && st.error().code != Errc::not_found)
    spdlog::warn("agent {}: unload of {} failed: {}", options_.engine_id, name, st.error().message);
  unloading_.erase(name);
}

}  // namespace loraplane::agent
