// Agent core (core.hpp): startup from disk, Kafka events, the hotness policy's bookkeeping.
#include "workers/agent/core.hpp"

#include <spdlog/spdlog.h>

#include <cmath>

#include "common/log.hpp"
#include "common/request_id.hpp"
#include "schema/json.hpp"

namespace loraplane::agent {

namespace {

std::string default_engine_id(const AgentOptions& o) {
  std::string authority = o.engine_url;
  if (auto at = authority.find("://"); at != std::string::npos)
    authority = authority.substr(at + 3);
  while (authority.ends_with('/')) authority.pop_back();
  return o.base_model + "@" + authority;
}

AgentOptions normalised(AgentOptions o) {
  if (o.engine_id.empty()) o.engine_id = default_engine_id(o);
  if (o.max_loras == 0) o.max_loras = 1;
  return o;
}

http::ClientOptions engine_client_options(const AgentOptions& o) {
  http::ClientOptions c;
  c.connect_timeout = std::chrono::milliseconds(5000);
  c.timeout = o.engine_timeout;
  c.max_response_bytes = std::size_t{16} * 1024 * 1024;  // /v1/models of ~1000 adapters, /metrics
  return c;
}

awaitable<void> holding(std::shared_ptr<Core> self, awaitable<void> work) {
  (void)self;
  co_await std::move(work);
}

}  // namespace

Core::Core(asio::io_context& io, const kafka::Cluster& cluster, AgentOptions options)
    : io_(io),
      options_(normalised(std::move(options))),
      disk_(options_.data_dir),
      engine_(options_.engine_url, engine_client_options(options_)),
      metrics_(options_.engine_id),
      poll_timer_(io) {
  kafka::ProducerOptions producer;
  producer.client_id = "loraplane-agent";
  producer.delivery_timeout = std::chrono::milliseconds(10000);
  producer_ = kafka::Producer::create(cluster, producer);
}

Status Core::recover_disk() {
  if (auto st = disk_.prepare(); !st) return st;
  auto scan = disk_.scan(options_.base_model);
  const auto now = Clock::now();
  const auto file_now = std::filesystem::file_time_type::clock::now();
  for (auto& event : scan.known) {
    auto& e = adapters_[event.adapter_id];
    e.info = std::move(event);
  }
  for (const auto& [id, on_disk] : scan.present) {
    auto& e = adapters_[id];
    e.on_disk = true;
    e.disk_bytes = on_disk.bytes;
    auto age = std::chrono::duration_cast<Clock::duration>(file_now - on_disk.modified);
    e.last_used = now - std::max(age, Clock::duration::zero());
  }
  for (const auto& id : scan.removed)
    spdlog::info("agent {}: removed {} from disk (unknown or incomplete)", options_.engine_id, id);
  spdlog::info("agent {}: {} adapters known, {} on disk", options_.engine_id, scan.known.size(),
               scan.present.size());
  return {};
}

kafka::Handled Core::on_message(const kafka::Message& message) {
  auto event = schema::parse<schema::LoadEvent>(message.value);
  if (!event) {
    spdlog::warn("agent {}: skipping unreadable load event at {}/{}: {}", options_.engine_id,
                 message.partition, message.offset, event.error().message);
    return kafka::Handled::done;
  }
  if (event->base_model != options_.base_model) return kafka::Handled::done;
  auto self = shared_from_this();
  std::string rid(kafka::request_id_of(message));
  logging::info({"agent", rid}, "agent {}: load event {} for {} received", options_.engine_id,
                schema::to_string(event->event), event->adapter_id);
  if (event->event == schema::LoadEventKind::adapter_ready) {
    if (auto st = disk_.remember(*event); !st) {
      logging::error({"agent", rid}, "agent {}: cannot record {}: {}", options_.engine_id,
                     event->adapter_id, st.error().message);
      return kafka::Handled::retry;
    }
    asio::post(io_, [self, e = std::move(*event), rid = std::move(rid)]() mutable {
      self->on_ready(std::move(e), true, std::move(rid));
    });
  } else {
    disk_.forget(event->adapter_id);
    asio::post(io_, [self, id = event->adapter_id, rid = std::move(rid)] {
      self->on_deleted(id, rid);
    });
  }
  return kafka::Handled::done;
}

kafka::Handled Core::on_state(const kafka::Message& message) {
  auto self = shared_from_this();
  std::string rid(kafka::request_id_of(message));
  if (message.tombstone) {
    if (disk_.remembers(message.key)) {
      disk_.forget(message.key);
      asio::post(io_, [self, id = message.key, rid] { self->on_deleted(id, rid); });
    }
    return kafka::Handled::done;
  }
  auto state = schema::parse<schema::AdapterState>(message.value);
  if (!state || state->adapter.base_model != options_.base_model) return kafka::Handled::done;
  const auto& a = state->adapter;
  if (a.status == schema::AdapterStatus::deleting) {
    if (disk_.remembers(a.id)) {
      disk_.forget(a.id);
      asio::post(io_, [self, id = a.id, rid] { self->on_deleted(id, rid); });
    }
    return kafka::Handled::done;
  }
  if (a.status != schema::AdapterStatus::ready || state->storage_urls.empty() ||
      !state->adapter_config)
    return kafka::Handled::done;
  schema::LoadEvent event;
  event.event = schema::LoadEventKind::adapter_ready;
  event.adapter_id = a.id;
  event.tenant_id = state->tenant_id;
  event.base_model = a.base_model;
  event.sha256 = a.sha256;
  event.size_bytes = a.size_bytes;
  event.rank = a.rank;
  event.storage_urls = state->storage_urls;
  event.at = state->updated_at;
  event.adapter_config = state->adapter_config;
  if (!disk_.remembers(a.id)) {
    if (auto st = disk_.remember(event); !st) {
      spdlog::error("agent {}: cannot record {}: {}", options_.engine_id, a.id, st.error().message);
      return kafka::Handled::retry;
    }
  }
  asio::post(io_, [self, e = std::move(event), rid = std::move(rid)]() mutable {
    self->on_ready(std::move(e), false, std::move(rid));
  });
  return kafka::Handled::done;
}

void Core::on_ready(schema::LoadEvent event, bool prewarm_it, std::string request_id) {
  if (stopping_ || deleted_.contains(event.adapter_id)) return;
  const auto id = event.adapter_id;
  auto& e = adapters_[id];
  const bool fresh = e.info.adapter_id.empty();
  e.info = std::move(event);
  if (!request_id.empty()) e.request_id = std::move(request_id);
  if (fresh && prewarm_it)
    logging::info({"agent", e.request_id}, "agent {}: adapter {} ready", options_.engine_id, id);
  publish_soon();
  if (prewarm_it && !e.op && !e.registered && !e.deleted) spawn(prewarm(id), "agent prewarm");
}

void Core::on_deleted(const std::string& adapter_id, const std::string& request_id) {
  if (stopping_) return;
  deleted_.insert(adapter_id);
  auto* e = find(adapter_id);
  if (!e) {
    disk_.remove_adapter(adapter_id);
    return;
  }
  if (!request_id.empty()) e->request_id = request_id;
  logging::info({"agent", e->request_id}, "agent {}: adapter {} deleted", options_.engine_id,
                adapter_id);
  e->deleted = true;
  if (!e->op) spawn(remove(adapter_id), "agent remove");  // else the op removes it when done
}

std::string Core::request_id_of(const std::string& adapter_id) const {
  auto it = adapters_.find(adapter_id);
  return it == adapters_.end() ? std::string() : it->second.request_id;
}

Entry* Core::find(const std::string& adapter_id) {
  auto it = adapters_.find(adapter_id);
  if (it == adapters_.end() || it->second.info.adapter_id.empty()) return nullptr;
  return &it->second;
}

double Core::heat(const Entry& e, Clock::time_point now) const {
  const double age = std::chrono::duration<double>(now - e.heat_at).count();
  const double half = std::max<double>(1.0, static_cast<double>(options_.heat_half_life.count()));
  return e.heat * std::exp2(-std::max(0.0, age) / half);
}

void Core::touch(Entry& e, double weight) {
  const auto now = Clock::now();
  e.heat = heat(e, now) + weight;
  e.heat_at = now;
  e.last_used = now;
}

std::size_t Core::slots_used() const {
  std::size_t n = 0;
  for (const auto& [id, e] : adapters_) n += (e.registered || e.slot_reserved) ? 1 : 0;
  return n;
}

Status Core::held(const std::string& id, Status st) {
  if (auto* e = find(id); e && st) e->held_until = Clock::now() + options_.ensure_hold;
  return st;
}

Entry* Core::coldest_registered(const std::string& except, bool idle_only) {
  const auto now = Clock::now();
  Entry* best = nullptr;
  for (auto& [id, e] : adapters_) {
    if (!e.registered || e.op || id == except || e.held_until > now) continue;
    if (idle_only && (e.engine_busy || e.slot_reserved)) continue;
    if (!best || heat(e, now) < heat(*best, now) ||
        (heat(e, now) == heat(*best, now) && e.last_used < best->last_used))
      best = &e;
  }
  return best;
}

Entry* Core::first_evictable(const std::vector<std::string>& order, const std::string& except,
                             bool idle_only) {
  const auto now = Clock::now();
  for (const auto& id : order) {
    if (id == except) continue;
    auto* e = find(id);
    if (!e || !e->registered || e->op || e->held_until > now) continue;
    if (idle_only && (e->engine_busy || e->slot_reserved)) continue;
    return e;
  }
  return nullptr;
}

Entry* Core::lru_on_disk(const std::string& except) {
  Entry* best = nullptr;
  for (auto& [id, e] : adapters_) {
    if (!e.on_disk || e.registered || e.slot_reserved || e.op || e.engine_busy || id == except)
      continue;
    if (!best || e.last_used < best->last_used) best = &e;
  }
  return best;
}

void Core::mark(Entry& e, bool registered) {
  e.registered = registered;
  e.changed_epoch = ++epoch_;
  publish_soon();
}

std::string Core::lora_name(const std::string& adapter_id) const {
  return options_.base_model + ":" + adapter_id;
}

schema::Residency Core::residency() const {
  std::lock_guard lock(snapshot_mu_);
  return last_;
}

void Core::spawn(awaitable<void> work, const char* what) {
  asio::co_spawn(io_, holding(shared_from_this(), std::move(work)), LogExceptions{what});
}

void Core::shutdown() {
  stopping_ = true;
  ready_ = false;
  poll_timer_.cancel();
  if (producer_ && !producer_->flush(std::chrono::seconds(5)))
    spdlog::warn("agent {}: residency producer not flushed within 5 s", options_.engine_id);
}

}  // namespace loraplane::agent
