// The short jobs: delete, stored (a storage node holds the bytes) and import (not built yet).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <tuple>

#include "workers/validate/job_handler.hpp"
#include "workers/validate/validate_metrics.hpp"

namespace loraplane::validate {

namespace {

schema::LoadEvent load_event(const schema::AdapterState& state, schema::LoadEventKind kind) {
  schema::LoadEvent event;
  event.event = kind;
  event.adapter_id = state.adapter.id;
  event.tenant_id = state.tenant_id;
  event.base_model = state.adapter.base_model;
  event.sha256 = state.adapter.sha256;
  event.size_bytes = state.adapter.size_bytes;
  event.rank = state.adapter.rank;
  event.storage_urls = state.storage_urls;
  event.at = state.updated_at;
  return event;
}

bool has_url(const schema::AdapterState& state, const std::string& url) {
  return std::find(state.storage_urls.begin(), state.storage_urls.end(), url) !=
         state.storage_urls.end();
}

// Storage urls kept per adapter. Agents need one that answers; a node that restarted on
// another port reports its new url and leaves the old one behind, so the list is bounded.
constexpr std::size_t kMaxStorageUrls = 16;

// Newest report first, where agents start: a node reports once it holds the bytes, so the
// latest url is the one most likely to answer, and an address a node has left sinks to the
// end and, past kMaxStorageUrls, out.
void add_url(schema::AdapterState& state, const std::string& url) {
  auto& urls = state.storage_urls;
  urls.insert(urls.begin(), url);
  if (urls.size() > kMaxStorageUrls) urls.resize(kMaxStorageUrls);
}

}  // namespace

// deleting (the name is free everywhere), adapter.deleted (agents unload), tombstone. A
// redelivered job finds the adapter deleting and redoes the last two steps, which repeat
// harmlessly; once tombstoned there is nothing left to do.
JobHandler::Outcome JobHandler::remove(const schema::Job& job) {
  auto state = adapter_of(job);
  if (!state) return Outcome::ignored;
  return remove_state(std::move(*state));
}

JobHandler::Outcome JobHandler::remove_state(schema::AdapterState state, bool announce) {
  if (state.adapter.status != schema::AdapterStatus::deleting) {
    auto deleting = next(state);
    deleting.adapter.status = schema::AdapterStatus::deleting;
    if (auto st = writer_.write(deleting); !st) return written(st, "deleting state", Outcome::done);
    state = std::move(deleting);
  }
  // An adapter never measured (an import that failed early) has no sha256: no agent holds it,
  // and a load event without one would be refused by its readers.
  if (announce && schema::valid_sha256(state.adapter.sha256)) {
    auto st = writer_.publish(load_event(state, schema::LoadEventKind::adapter_deleted));
    if (!st) return written(st, "adapter.deleted event", Outcome::done);
  }
  if (auto st = writer_.tombstone(state.adapter.id); !st)
    return written(st, "tombstone", Outcome::done);
  spdlog::info("validate: adapter {} deleted", state.adapter.id);
  return Outcome::done;
}

JobHandler::Outcome JobHandler::finish_delete(schema::AdapterState state) {
  spdlog::info("validate: adapter {} was left deleting; finishing its delete", state.adapter.id);
  const bool stored = !state.storage_urls.empty();
  return remove_state(std::move(state), /*announce=*/stored);
}

// Oldest first by creation, then id (a gateway's ids begin with their millisecond): a failure
// pushes the oldest one out. A Kafka error leaves the surplus to the next failure, and a delete
// it cut short to the next failure of the tenant (or the next job of that adapter, or the next
// start of a worker).
void JobHandler::prune_failed(const std::string& tenant_id, const std::string& just_failed) {
  for (auto& state : adapters_.deleting(tenant_id))
    if (finish_delete(std::move(state)) == Outcome::retry) return;
  std::vector<schema::AdapterState> failed;  // the others
  for (auto& state : adapters_.undeleted(tenant_id))
    if (state.adapter.status == schema::AdapterStatus::failed && state.adapter.id != just_failed)
      failed.push_back(std::move(state));
  const std::size_t keep = options_.max_failed_per_tenant > 0 ? options_.max_failed_per_tenant - 1 : 0;
  if (failed.size() <= keep) return;
  std::sort(failed.begin(), failed.end(), [](const auto& a, const auto& b) {
    return std::tie(a.adapter.created_at, a.adapter.id) <
           std::tie(b.adapter.created_at, b.adapter.id);
  });
  const std::size_t surplus = failed.size() - keep;
  for (std::size_t i = 0; i < surplus; ++i) {
    spdlog::info("validate: tenant {} has more than {} failed adapters; deleting the oldest, {}",
                 tenant_id, options_.max_failed_per_tenant, failed[i].adapter.id);
    validate_metrics().failure("pruned_failed");
    if (remove_state(std::move(failed[i]), /*announce=*/false) == Outcome::retry) return;
  }
}

// Another gateway may accept an upload or import for a tenant until it reads the tenant's
// deletion, after the deleting gateway and this worker swept the tenant (tenant_sweep.hpp).
// Such an adapter is deleted here, when it would be admitted or made ready, instead of living
// on with no key to reach it.
JobHandler::Outcome JobHandler::tenant_gone(const schema::Job& job) {
  spdlog::info("validate: {} job {}: tenant {} is deleted; deleting adapter {}",
               schema::to_string(job.kind), job.job_id, job.tenant_id, job.adapter_id);
  validate_metrics().failure("tenant_deleted");
  return remove(job);
}

// validating + validated → ready with the url, after publishing adapter.ready (so a crash in
// between leaves it validating and the redelivered job publishes again); ready → merge the url.
JobHandler::Outcome JobHandler::stored(const schema::Job& job) {
  auto state = adapter_of(job);
  if (!state) return Outcome::ignored;
  if (state->adapter.status == schema::AdapterStatus::deleting)
    return finish_delete(std::move(*state));
  if (tenants_.deleted(job.tenant_id)) return tenant_gone(job);
  const std::string& url = job.stored->blob_url;
  const auto status = state->adapter.status;
  if (status == schema::AdapterStatus::ready) {
    if (has_url(*state, url)) return Outcome::skipped;
    auto merged = next(*state);
    add_url(merged, url);
    return written(writer_.write(merged), "storage url", Outcome::done);
  }
  if (status != schema::AdapterStatus::validating || !state->validated) {
    // The node drops its reference when it sees this state.
    spdlog::info("validate: stored job {} for adapter {} in status {}: ignored", job.job_id,
                 job.adapter_id, schema::to_string(status));
    return Outcome::ignored;
  }
  auto ready = next(*state);
  ready.adapter.status = schema::AdapterStatus::ready;
  ready.adapter.error.reset();
  if (!has_url(ready, url)) add_url(ready, url);
  auto event = load_event(ready, schema::LoadEventKind::adapter_ready);
  event.adapter_config = ready.adapter_config;
  if (auto st = writer_.publish(event); !st)
    return written(st, "adapter.ready event", Outcome::done);
  if (auto st = writer_.write(ready); !st) return written(st, "ready state", Outcome::done);
  spdlog::info("validate: adapter {} ready (stored on {})", job.adapter_id, job.stored->node_id);
  return Outcome::done;
}


}  // namespace loraplane::validate
