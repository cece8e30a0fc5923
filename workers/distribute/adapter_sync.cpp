// One adapter's reconciliation on the sync thread: what the storage node holds and reports for
// the newest state of that adapter. Every step is idempotent, so a retry, a redelivered record
// or a restart repeats it safely. The GC runs on a thread of its own: a blob it deletes between
// the presence check here and the reference being added makes add_ref fail with not_found, and
// the retry copies the blob again.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <memory>

#include "common/request_id.hpp"
#include "schema/adapter_job.hpp"
#include "schema/json.hpp"
#include "workers/distribute/blob_copy.hpp"
#include "workers/distribute/distribute_metrics.hpp"
#include "workers/distribute/syncer.hpp"

namespace loraplane::distribute {

namespace {

schema::Job stored_job(const schema::AdapterState& state, std::string node_id,
                       std::string blob_url) {
  auto job = schema::adapter_job(schema::JobKind::stored, state.tenant_id, state.adapter,
                                state.adapter.created_at);
  job.stored = schema::JobStored{std::move(node_id), std::move(blob_url)};
  return job;
}

}  // namespace

Syncer::Step Syncer::reconcile(const std::string& adapter_id,
                               const std::optional<schema::AdapterState>& state) {
  const Wanted want = wanted(state);
  switch (want) {
    case Wanted::drop:
      return drop(adapter_id);
    case Wanted::ignore:
      return Step::done;
    case Wanted::keep:
    case Wanted::hold:
      break;
  }
  if (auto it = gave_up_.find(adapter_id); it != gave_up_.end()) {
    if (it->second == state->seq) return Step::done;  // a newer record gets a new attempt
    gave_up_.erase(it);
  }
  if (want == Wanted::hold) return hold_blob(adapter_id, *state);
  return keep(adapter_id, *state);
}

Syncer::Step Syncer::keep(const std::string& adapter_id, const schema::AdapterState& state) {
  if (auto step = hold_blob(adapter_id, state); step != Step::done) return step;
  return report(adapter_id, state);
}

Syncer::Step Syncer::hold_blob(const std::string& adapter_id, const schema::AdapterState& state) {
  const std::string& sha = state.adapter.sha256;
  if (!schema::valid_sha256(sha)) {
    spdlog::error("distribute: adapter {} to hold has no valid sha256", adapter_id);
    return Step::give_up;
  }
  auto& store = db_.blobs();
  const auto held = refs_.get(adapter_id);
  const bool present = store.stat(sha).has_value();
  if (present && held == sha && confirmed_.contains(adapter_id)) return Step::done;
  if (!present) {
    Result<storage::BlobInfo> info =
        make_error(Errc::not_found, "adapter " + adapter_id + " has no upload_location");
    if (state.upload_location)
      info = copy_upload(cluster_, store, {*state.upload_location, sha, state.adapter.size_bytes},
                         options_.read_idle_timeout);
    // The upload is gone from loraplane.uploads (kept a day) or was never there: a node that
    // joined since, or lost its disk, copies the blob from a node that holds it.
    bool from_peer = false;
    if (!info && info.error().code == Errc::not_found) {
      std::vector<std::string> peers;
      for (const auto& url : state.storage_urls)
        if (url != blob_url(sha)) peers.push_back(url);
      if (!peers.empty()) {
        spdlog::info("distribute {}: {}; copying blob {} from another storage node",
                     options_.node_id, info.error().message, sha);
        info = copy_from_peers(store, peers, sha, state.adapter.size_bytes,
                               options_.read_idle_timeout);
        from_peer = true;
      }
    }
    if (!info) {
      const bool fatal = permanent_copy_error(info.error().code);
      spdlog::log(fatal ? spdlog::level::err : spdlog::level::warn,
                  "distribute: copying adapter {} (blob {}) failed: {}", adapter_id, sha,
                  info.error().message);
      return fatal ? Step::give_up : Step::retry;
    }
    ++counters_.copied;
    distribute_metrics().stored_outcome(from_peer ? "copied_from_peer" : "copied").Increment();
    spdlog::info("distribute {}: stored blob {} ({} bytes) for {}{}", options_.node_id, sha,
                 info->size, adapter_id, from_peer ? ", from another storage node" : "");
  } else if (held != sha) {
    ++counters_.reused;
    distribute_metrics().stored_outcome("reused").Increment();
  }
  if (auto st = refs_.put(adapter_id, sha); !st) {
    spdlog::warn("distribute: recording ref {} → {}: {}", adapter_id, sha, st.error().message);
    return Step::retry;
  }
  if (auto st = store.add_ref(sha, adapter_id); !st) {
    spdlog::warn("distribute: adding ref {} → {}: {}", adapter_id, sha, st.error().message);
    return Step::retry;
  }
  if (held && *held != sha) {  // the adapter's bytes changed (not expected): release the old
    if (auto st = store.remove_ref(*held, adapter_id); !st)
      spdlog::warn("distribute: releasing old blob {} of {}: {}", *held, adapter_id,
                   st.error().message);
  }
  confirmed_.insert(adapter_id);
  update_size_gauge();
  return Step::done;
}

Syncer::Step Syncer::report(const std::string& adapter_id, const schema::AdapterState& state) {
  const std::string url = blob_url(state.adapter.sha256);
  const auto& urls = state.storage_urls;
  if (std::find(urls.begin(), urls.end(), url) != urls.end()) {
    reported_.insert(adapter_id);
    return Step::done;
  }
  if (reported_.contains(adapter_id)) return Step::done;  // sent; the state lags behind
  const std::string json = schema::to_json(stored_job(state, options_.node_id, url));
  auto delivered = std::make_shared<std::promise<Status>>();
  auto future = delivered->get_future();
  producer_.produce(kafka::kJobs, state.tenant_id, json, kafka::request_id_headers(request_id_),
                    [delivered](Status st) { delivered->set_value(std::move(st)); });
  if (future.wait_for(options_.produce_timeout) != std::future_status::ready) {
    spdlog::warn("distribute: stored job for {} not acknowledged in time", adapter_id);
    return Step::retry;
  }
  if (auto st = future.get(); !st) {
    spdlog::warn("distribute: stored job for {} failed: {}", adapter_id, st.error().message);
    return st.error().code == Errc::limit_exceeded ? Step::give_up : Step::retry;
  }
  reported_.insert(adapter_id);
  spdlog::info("distribute {}: reported {} stored", options_.node_id, adapter_id);
  ++counters_.reported;
  distribute_metrics().stored_outcome("reported").Increment();
  return Step::done;
}

Syncer::Step Syncer::drop(const std::string& adapter_id) {
  gave_up_.erase(adapter_id);
  reported_.erase(adapter_id);
  confirmed_.erase(adapter_id);
  const auto held = refs_.get(adapter_id);
  if (!held) return Step::done;
  if (auto st = db_.blobs().remove_ref(*held, adapter_id); !st) {
    spdlog::warn("distribute: releasing blob {} of {}: {}", *held, adapter_id, st.error().message);
    return Step::retry;
  }
  if (auto st = refs_.erase(adapter_id); !st) return Step::retry;
  ++counters_.removed;
  distribute_metrics().refs_removed.Increment();
  spdlog::info("distribute {}: released blob {} of {}", options_.node_id, *held, adapter_id);
  update_size_gauge();
  return Step::done;
}

}  // namespace loraplane::distribute
