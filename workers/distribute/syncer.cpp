#include "workers/distribute/syncer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/log.hpp"
#include "common/request_id.hpp"
#include "schema/json.hpp"
#include "workers/distribute/blob_http.hpp"
#include "workers/distribute/distribute_metrics.hpp"

namespace loraplane::distribute {

using Clock = std::chrono::steady_clock;

Syncer::Syncer(const kafka::Cluster& cluster, storage::Db& db, kafka::Producer& producer,
               SyncOptions options)
    : cluster_(cluster), db_(db), producer_(producer), options_(std::move(options)), refs_(db) {}

Syncer::~Syncer() { stop(); }

kafka::Handled Syncer::on_record(const kafka::Message& message) {
  if (message.key.empty()) {
    spdlog::warn("distribute: adapter record without key at {} [{}] @{}; skipped", message.topic,
                 message.partition, message.offset);
    return kafka::Handled::done;
  }
  std::optional<schema::AdapterState> state;
  if (!message.tombstone) {
    auto parsed = schema::parse<schema::AdapterState>(message.value);
    if (!parsed) {
      spdlog::warn("distribute: adapter record {} @{} unreadable ({}); skipped", message.key,
                   message.offset, parsed.error().message);
      return kafka::Handled::done;
    }
    state = std::move(*parsed);
  }
  {
    std::lock_guard lock(mu_);
    if (table_.apply(message.key, std::move(state))) {
      queue_.push(message.key);
      if (const auto id = kafka::request_id_of(message); !id.empty())
        request_ids_.insert_or_assign(message.key, std::string(id));
      else
        request_ids_.erase(message.key);
    }
  }
  cv_.notify_all();
  return kafka::Handled::done;
}

Status Syncer::start(std::function<bool()> caught_up) {
  if (auto st = refs_.load(); !st) return st;
  caught_up_ = std::move(caught_up);
  update_size_gauge();
  thread_ = std::thread([this] { run(); });
  gc_thread_ = std::thread([this] { run_gc(); });
  return {};
}

void Syncer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  gc_cv_.notify_all();
  // A GC under way can take minutes (a relocation rewrites the live chunks): cut it short.
  gc_stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (gc_thread_.joinable()) gc_thread_.join();
}

SyncStats Syncer::stats() const {
  return SyncStats{counters_.copied.load(),  counters_.reused.load(),  counters_.reported.load(),
                   counters_.removed.load(), counters_.retried.load(), counters_.gave_up.load()};
}

std::string Syncer::blob_url(std::string_view sha256) const {
  std::string route(kBlobRoute);
  return options_.blob_base_url + route.substr(0, route.find('{')) + std::string(sha256);
}

bool Syncer::wait_caught_up() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    const bool done = caught_up_();
    lock.lock();
    if (done) return !stopping_;
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  return false;
}

void Syncer::run() {
  logging::ThreadScope role({"distribute", {}});  // this thread works for the node only
  if (!wait_caught_up()) return;
  {
    std::lock_guard lock(mu_);
    caught_up_seen_ = true;
  }
  gc_cv_.notify_all();
  {
    // References whose adapter has no live record any more (deleted while this node was down,
    // then compacted away) are visited too: reconciling an unknown adapter drops its ref.
    std::lock_guard lock(mu_);
    for (const auto& id : refs_.adapters()) queue_.push(id);
  }
  spdlog::info("distribute {}: adapters table caught up; reconciling", options_.node_id);
  for (;;) {
    std::optional<std::string> adapter_id;
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (stopping_) return;
        adapter_id = queue_.pop(Clock::now());
        if (adapter_id) break;
        if (!ready_.exchange(true)) {
          spdlog::info("distribute {}: first reconciliation done", options_.node_id);
          if (options_.on_ready) options_.on_ready();
        }
        if (auto due = queue_.next_due())
          cv_.wait_until(lock, *due);
        else
          cv_.wait(lock);
      }
    }
    process(*adapter_id);
  }
}

void Syncer::run_gc() {
  logging::ThreadScope role({"distribute", {}});
  std::unique_lock lock(mu_);
  gc_cv_.wait(lock, [this] { return stopping_ || caught_up_seen_; });
  for (;;) {
    if (gc_cv_.wait_for(lock, options_.gc_interval, [this] { return stopping_; })) return;
    lock.unlock();
    collect_garbage();
    lock.lock();
  }
}

void Syncer::process(const std::string& adapter_id) {
  std::optional<schema::AdapterState> state;
  {
    std::lock_guard lock(mu_);
    state = table_.find(adapter_id);
    auto it = request_ids_.find(adapter_id);
    request_id_ = it == request_ids_.end() ? std::string() : it->second;
  }
  // Synchronous on the sync thread: the lines about this adapter carry its request id.
  logging::ThreadScope scope({"distribute", request_id_});
  Step step = Step::retry;
  try {
    step = reconcile(adapter_id, state);
  } catch (const std::exception& e) {
    spdlog::error("distribute: reconciling {} threw: {}", adapter_id, e.what());
  }
  switch (step) {
    case Step::done:
      attempts_.erase(adapter_id);
      break;
    case Step::retry:
      schedule_retry(adapter_id);
      break;
    case Step::give_up:
      attempts_.erase(adapter_id);
      gave_up_[adapter_id] = state ? state->seq : 0;
      ++counters_.gave_up;
      distribute_metrics().stored_outcome("failed").Increment();
      break;
  }
}

void Syncer::schedule_retry(const std::string& adapter_id) {
  const int attempt = ++attempts_[adapter_id];
  auto delay = options_.min_retry_delay * (1LL << std::min(attempt - 1, 16));
  delay = std::min<std::chrono::milliseconds>(delay, options_.max_retry_delay);
  ++counters_.retried;
  distribute_metrics().stored_outcome("retry").Increment();
  spdlog::info("distribute: {} retried in {} ms (attempt {})", adapter_id, delay.count(), attempt);
  std::lock_guard lock(mu_);
  queue_.push_at(adapter_id, Clock::now() + delay);
}

void Syncer::collect_garbage() {
  auto deleted = db_.blobs().collect_garbage(options_.gc_min_age_seconds, &gc_stop_);
  if (!deleted && gc_stop_) {
    spdlog::info("distribute {}: blob GC cut short by the stop", options_.node_id);
    return;
  }
  if (!deleted) {
    spdlog::warn("distribute {}: blob GC failed: {}", options_.node_id, deleted.error().message);
    return;
  }
  if (*deleted > 0) {
    spdlog::info("distribute {}: GC deleted {} unreferenced blobs", options_.node_id, *deleted);
    distribute_metrics().gc_deleted.Increment(static_cast<double>(*deleted));
  }
  update_size_gauge();
}

void Syncer::update_size_gauge() {
  distribute_metrics()
      .blob_store_bytes.Add({{"node", options_.node_id}})
      .Set(static_cast<double>(db_.blobs().total_bytes()));
}

}  // namespace loraplane::distribute
