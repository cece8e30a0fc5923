// One job of loraplane.jobs, handled on the job consumer's thread: upload (admit, re-read,
// validate), delete, stored and import. Every step is idempotent by the adapter's status and
// seq, so a redelivered job changes nothing that is already done; a Kafka failure while
// writing asks for the job again (Handled::retry), a malformed job is logged and skipped.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/kafka.hpp"
#include "common/model_catalog.hpp"
#include "schema/adapter/validate.hpp"
#include "schema/types.hpp"
#include "workers/validate/adapter_view.hpp"
#include "workers/validate/state_writer.hpp"
#include "workers/validate/upload_reader.hpp"
#include "workers/validate/validate_worker.hpp"

namespace loraplane::validate {

// An import publishes the weights as 1 MiB chunks, at most 8 unacknowledged: what one lane
// may hold in the worker's producer queue at once.
inline constexpr std::size_t kImportChunkBytes = std::size_t{1} << 20;
inline constexpr int kImportChunksInFlight = 8;

// Pending (not taken yet) or validating without a verdict (a previous attempt stopped half-way:
// a crash, or a Kafka error while reading the chunks). Anything else is past this job.
inline bool in_progress(const schema::AdapterState& state) {
  const auto status = state.adapter.status;
  return status == schema::AdapterStatus::pending ||
         (status == schema::AdapterStatus::validating && !state.validated);
}

class JobHandler {
 public:
  JobHandler(const kafka::Cluster& cluster, const ModelCatalog& catalog,
             const ValidateOptions& options, AdapterView& adapters, TenantTiers& tenants,
             StateWriter& writer, const std::atomic<bool>& stopping)
      : cluster_(cluster),
        catalog_(catalog),
        options_(options),
        adapters_(adapters),
        tenants_(tenants),
        writer_(writer),
        stopping_(stopping) {}

  kafka::Handled handle(const kafka::Message& message);

 private:
  // What became of a job (the metrics' outcome label).
  enum class Outcome { done, failed, skipped, ignored, retry };
  static std::string_view label(Outcome outcome);

  Outcome dispatch(const schema::Job& job);
  // The job's adapter from the view, if it belongs to the job's tenant.
  std::optional<schema::AdapterState> adapter_of(const schema::Job& job);

  // upload_job.cpp
  Outcome upload(const schema::Job& job);
  std::optional<Outcome> admit(const schema::Job& job, schema::AdapterState& state,
                               schema::Tier tier);
  Outcome validate_upload(const schema::Job& job, const schema::AdapterState& state,
                          schema::Tier tier);
  Outcome validated(const schema::Job& job, const schema::AdapterState& state,
                    const ReceivedUpload& received, const adapter::AdapterSummary& summary,
                    const BaseModel& base);

  // lifecycle_jobs.cpp
  Outcome remove(const schema::Job& job);
  // deleting, adapter.deleted (when it has a sha256 and `announce`), tombstone: the steps of a
  // delete. A failed adapter was never announced ready: no agent holds it, nothing to tell.
  Outcome remove_state(schema::AdapterState state, bool announce = true);
  // The last steps of a delete that a crash or a Kafka error cut short after `deleting` was
  // written (whatever job finds it so): announced only if agents could hold it (it was stored).
  Outcome finish_delete(schema::AdapterState state);
  // Deletes the tenant's oldest failed adapters beyond options_.max_failed_per_tenant, never
  // `just_failed` (the one the user is about to look at); first finishes the tenant's deletes
  // left unfinished.
  void prune_failed(const std::string& tenant_id, const std::string& just_failed);
  // The adapter of a deleted tenant, whatever the job: deleted as by remove().
  Outcome tenant_gone(const schema::Job& job);
  Outcome stored(const schema::Job& job);

  // import_job.cpp
  Outcome import(const schema::Job& job);

  // `state` with seq + 1 and updated_at = now: the next record of the adapter.
  static schema::AdapterState next(const schema::AdapterState& state);
  // Writes `state` as failed with {code, message}.
  Outcome fail(const schema::AdapterState& state, std::string_view code, std::string message);
  // A write's status as an outcome: success → `ok`, failure → retry (logged and counted).
  static Outcome written(const Status& status, std::string_view what, Outcome ok);

  const kafka::Cluster& cluster_;
  const ModelCatalog& catalog_;
  const ValidateOptions& options_;
  AdapterView& adapters_;
  TenantTiers& tenants_;
  StateWriter& writer_;
  const std::atomic<bool>& stopping_;  // the worker's: waits end early, jobs are left for later
};

}  // namespace loraplane::validate
