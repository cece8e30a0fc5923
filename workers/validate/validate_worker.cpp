#include "workers/validate/validate_worker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/health.hpp"
#include "common/kafka_lanes.hpp"
#include "common/log.hpp"
#include "common/request_id.hpp"

#include "workers/validate/adapter_view.hpp"
#include "workers/validate/job_handler.hpp"
#include "workers/validate/state_writer.hpp"
#include "workers/validate/tenant_sweep.hpp"
#include "workers/validate/validate_metrics.hpp"

namespace loraplane::validate {

namespace {

using namespace std::chrono_literals;

constexpr auto kCatchUpPoll = 200ms;  // how often the starter thread re-checks for stop()
constexpr auto kFlushOnStop = 5s;
constexpr auto kSweepRetry = 1s;  // before the next sweep after one Kafka refused

std::optional<std::string_view> value_of(const kafka::Message& m) {
  if (m.tombstone) return std::nullopt;
  return std::string_view(m.value);
}

kafka::ConsumerOptions table_reader(std::string client_id, std::string_view topic) {
  kafka::ConsumerOptions options;
  options.client_id = std::move(client_id);
  options.topics = {std::string(topic)};
  return options;
}

}  // namespace

ValidateWorker::ValidateWorker(const kafka::Cluster& cluster, const ModelCatalog& catalog,
                               ValidateOptions options)
    : cluster_(cluster),
      catalog_(catalog),
      options_(std::move(options)),
      adapters_(std::make_unique<AdapterView>()),
      tenants_(std::make_unique<TenantTiers>()) {}

ValidateWorker::~ValidateWorker() { stop(); }

void ValidateWorker::start() {
  // /healthz of its process says "validate" is ready once the worker takes jobs.
  health::register_role("validate");
  health::set_ready("validate", false);
  validate_metrics();  // the families exist from the start: an idle worker's /metrics shows them
  kafka::ProducerOptions producer_options;
  producer_options.client_id = options_.client_id;
  lanes_.resize(std::max<std::size_t>(options_.job_lanes, 1));
  // Every lane may be importing at once: room for each one's chunks in flight on top of the
  // usual queue, so that eight tenants' imports never meet a full queue (which fails the
  // chunk, and the import starts over) and never push another lane's state records out.
  producer_options.queue_max_bytes +=
      lanes_.size() * kImportChunksInFlight * (kImportChunkBytes + 64 * 1024);
  producer_ = kafka::Producer::create(cluster_, producer_options);
  for (auto& lane : lanes_) {
    lane.writer = std::make_unique<StateWriter>(*producer_, *adapters_, options_.produce_timeout);
    lane.handler = std::make_unique<JobHandler>(cluster_, catalog_, options_, *adapters_,
                                                *tenants_, *lane.writer, stopping_);
  }
  adapter_reader_ = kafka::Consumer::start(
      cluster_, table_reader(options_.client_id + "-adapters", kafka::kAdapters),
      [this](const kafka::Message& m) {
        adapters_->apply(m.key, value_of(m));
        // A live adapter of a tenant already deleted: one that a worker which owned the
        // tenant's partition before this one made ready, read here only after the deletion
        // (whose sweep missed it). Swept now.
        if (sweeping_.load() && !m.tombstone) {
          if (auto state = adapters_->get(m.key);
              state && state->adapter.status != schema::AdapterStatus::deleting &&
              tenants_->deleted(state->tenant_id))
            queue_sweep(state->tenant_id, std::string(kafka::request_id_of(m)));
        }
        return kafka::Handled::done;
      });
  tenant_reader_ = kafka::Consumer::start(
      cluster_, table_reader(options_.client_id + "-tenants", kafka::kTenants),
      [this](const kafka::Message& m) {
        if (auto deleted = tenants_->apply(m.key, value_of(m)); deleted && sweeping_.load())
          queue_sweep(std::move(*deleted), std::string(kafka::request_id_of(m)));
        return kafka::Handled::done;
      });
  starter_ = std::thread([this] { start_jobs_when_caught_up(); });
}

// Taking jobs before the view is complete would misjudge uniqueness, quota and redeliveries.
void ValidateWorker::start_jobs_when_caught_up() {
  while (!stopping_.load()) {
    if (adapter_reader_->wait_caught_up(kCatchUpPoll) &&
        tenant_reader_->wait_caught_up(kCatchUpPoll))
      break;
  }
  sweeping_ = true;
  {
    std::lock_guard lock(jobs_mutex_);
    if (stopping_.load()) return;
    kafka::ConsumerOptions options;
    options.client_id = options_.client_id;
    options.group_id = options_.group_id;
    options.topics = {std::string(kafka::kJobs)};
    options.session_timeout = options_.session_timeout;
    try {
      jobs_ = kafka::start_lanes(cluster_, std::move(options), lanes_.size(),
                                 [this](std::size_t lane, const kafka::Message& m) {
                                   return lanes_[lane].handler->handle(m);
                                 });
    } catch (const std::exception& e) {
      spdlog::error("validate: cannot start the job consumer: {}", e.what());
      return;
    }
    ready_ = true;
    health::set_ready("validate", true);
    spdlog::info("validate: adapter and tenant views caught up; taking jobs as {} ({} lanes)",
                 options_.group_id, lanes_.size());
  }
  finish_unfinished_deletes();
  // Then this thread serves the sweeps: first of the tenants deleted before the views caught
  // up, then of each deletion the tenant reader reads.
  for (auto& id : tenants_->deleted_ids()) queue_sweep(std::move(id), "");
  serve_sweeps();
}

void ValidateWorker::queue_sweep(std::string tenant_id, std::string request_id) {
  std::lock_guard lock(sweep_mutex_);
  add_sweep(std::move(tenant_id), std::move(request_id));
  sweep_wanted_.notify_all();
}

void ValidateWorker::add_sweep(std::string tenant_id, std::string request_id) {
  for (const auto& queued : sweeps_)
    if (queued.first == tenant_id) return;
  sweeps_.emplace_back(std::move(tenant_id), std::move(request_id));
}

void ValidateWorker::serve_sweeps() {
  std::unique_lock lock(sweep_mutex_);
  while (true) {
    sweep_wanted_.wait(lock, [this] { return stopping_.load() || !sweeps_.empty(); });
    if (stopping_.load()) return;
    auto [tenant_id, request_id] = std::move(sweeps_.front());
    sweeps_.pop_front();
    lock.unlock();
    const bool done = sweep(tenant_id, request_id);
    lock.lock();
    if (!done) {
      // Kafka refused: the tenant goes to the back (unless it is queued again already), and
      // the next try waits a little.
      add_sweep(std::move(tenant_id), std::move(request_id));
      sweep_wanted_.wait_for(lock, kSweepRetry, [this] { return stopping_.load(); });
    }
  }
}

bool ValidateWorker::sweep(const std::string& tenant_id, const std::string& request_id) {
  logging::ThreadScope scope({"validate", request_id});
  auto queued = sweep_deleted_tenant(*producer_, *adapters_, tenant_id, request_id,
                                     options_.produce_timeout, stopping_);
  if (!queued) {
    if (stopping_.load()) return false;  // the next worker sweeps at its start
    spdlog::warn("validate: sweeping deleted tenant {}: {}; will retry", tenant_id,
                 queued.error().message);
    validate_metrics().failure("kafka");
    return false;
  }
  if (queued.value() > 0) {
    spdlog::info("validate: tenant {} is deleted: {} adapter deletes queued", tenant_id,
                 queued.value());
    validate_metrics().swept(queued.value());
  }
  return true;
}

void ValidateWorker::finish_unfinished_deletes() {
  constexpr int kAttempts = 5;
  for (int attempt = 1; attempt <= kAttempts && !stopping_.load(); ++attempt) {
    auto queued = sweep_unfinished_deletes(*producer_, *adapters_, options_.produce_timeout,
                                           stopping_);
    if (queued) {
      if (queued.value() > 0)
        spdlog::info("validate: {} adapters were left deleting (a delete cut short); their "
                     "delete jobs are queued",
                     queued.value());
      return;
    }
    if (stopping_.load()) return;
    spdlog::warn("validate: queueing the deletes left unfinished: {}{}", queued.error().message,
                 attempt < kAttempts ? "; will retry" : "; left to the next start");
    validate_metrics().failure("kafka");
    std::unique_lock lock(sweep_mutex_);
    sweep_wanted_.wait_for(lock, kSweepRetry, [this] { return stopping_.load(); });
  }
}

void ValidateWorker::stop() {
  stopping_ = true;
  {
    std::lock_guard lock(sweep_mutex_);  // serve_sweeps() checks stopping_ under it
    sweep_wanted_.notify_all();
  }
  adapters_->close();  // a job waiting for a record gives up now and is left for later
  tenants_->close();
  if (starter_.joinable()) starter_.join();
  {
    std::lock_guard lock(jobs_mutex_);
    if (jobs_) jobs_->stop();  // waits for the jobs in hand; their offsets are committed if done
    jobs_.reset();
  }
  adapter_reader_.reset();
  tenant_reader_.reset();
  if (producer_ && !producer_->flush(kFlushOnStop))
    spdlog::warn("validate: producer still had undelivered messages at stop");
  lanes_.clear();
  producer_.reset();
  ready_ = false;
  health::set_ready("validate", false);
}

}  // namespace loraplane::validate
