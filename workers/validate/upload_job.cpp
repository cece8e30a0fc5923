// The upload job: admit the adapter (name uniqueness and tier quota, authoritatively), then
// re-read its chunks and validate them fully against the base model.
#include <spdlog/spdlog.h>

#include "schema/adapter/adapter_config.hpp"
#include "workers/validate/job_handler.hpp"
#include "workers/validate/validate_metrics.hpp"

namespace loraplane::validate {

namespace {

schema::UploadLocation location_of(const schema::JobUpload& u) {
  return {u.upload_id, u.partition, u.first_offset, u.last_offset, u.chunk_count};
}

}  // namespace

JobHandler::Outcome JobHandler::upload(const schema::Job& job) {
  auto state = adapter_of(job);
  if (!state) return Outcome::ignored;
  if (state->adapter.status == schema::AdapterStatus::deleting)
    return finish_delete(std::move(*state));  // e.g. tenant_gone, cut short by a crash
  if (!in_progress(*state)) return Outcome::skipped;  // a redelivered job
  auto tier = tenants_.wait_for(job.tenant_id, options_.state_wait);
  if (!tier) {
    if (stopping_.load()) return Outcome::retry;
    spdlog::warn("validate: tenant {} of adapter {} is unknown; applying the shared tier's limits",
                 job.tenant_id, job.adapter_id);
    tier = schema::Tier::shared;
  }
  if (state->adapter.status == schema::AdapterStatus::pending) {
    if (auto refused = admit(job, *state, *tier)) return *refused;
  }
  return validate_upload(job, *state, *tier);
}

// On success writes `validating` and updates `state` to it; otherwise the outcome to return.
std::optional<JobHandler::Outcome> JobHandler::admit(const schema::Job& job,
                                                     schema::AdapterState& state,
                                                     schema::Tier tier) {
  if (tenants_.deleted(job.tenant_id)) return tenant_gone(job);
  const auto& a = state.adapter;
  if (auto holder = adapters_.name_holder(state.tenant_id, a.base_model, a.name, a.id))
    return fail(state, "adapter_exists",
                "name: an adapter named '" + a.name + "' already exists for " + a.base_model +
                    " (" + holder->id + ", " + std::string(schema::to_string(holder->status)) +
                    ")" +
                    (holder->status == schema::AdapterStatus::failed
                         ? "; delete it to reuse the name"
                         : ""));
  const auto limits = schema::limits(tier);
  if (adapters_.admitted_count(state.tenant_id, a.id) >= limits.max_adapters)
    return fail(state, "adapter_limit_reached",
                "the " + std::string(schema::to_string(tier)) + " tier allows " +
                    std::to_string(limits.max_adapters) + " adapters");
  if (job.upload && job.upload->size_bytes > limits.max_adapter_bytes)
    return fail(state, "adapter_too_large",
                "file: " + std::to_string(job.upload->size_bytes) + " bytes exceed the limit of " +
                    std::to_string(limits.max_adapter_bytes / 1000000) + " MB");
  auto validating = next(state);
  validating.adapter.status = schema::AdapterStatus::validating;
  validating.adapter.error.reset();
  // With the chunks' place (and the gateway's sha256 and size, already in the record), storage
  // nodes start copying the bytes while this worker validates them: the copy takes about twice
  // as long as the validation, and the adapter is ready once both are done.
  if (job.upload) validating.upload_location = location_of(*job.upload);
  if (auto st = writer_.write(validating); !st)
    return written(st, "validating state", Outcome::done);
  state = std::move(validating);
  return std::nullopt;
}

JobHandler::Outcome JobHandler::validate_upload(const schema::Job& job,
                                                const schema::AdapterState& state,
                                                schema::Tier tier) {
  const BaseModel* base = catalog_.find(state.adapter.base_model);
  if (base == nullptr)
    return fail(state, "model_not_found",
                "base_model: '" + state.adapter.base_model + "' is not in the model catalog");
  std::optional<adapter::AdapterConfig> config;
  if (job.upload->config) {
    auto parsed = adapter::parse_adapter_config(*job.upload->config);
    if (!parsed) return fail(state, "invalid_adapter", parsed.error().message);
    config = std::move(parsed).value();
  }
  auto received = read_upload(cluster_, *job.upload, options_.chunk_idle_timeout);
  if (!received) {
    const auto& error = received.error();
    if (error.code == Errc::invalid_argument) return fail(state, "invalid_adapter", error.message);
    if (error.code == Errc::not_found) {
      // The detail (offsets, topic) is for the operator; the user is told what to do.
      spdlog::warn("validate: upload {} of adapter {} is gone: {}", job.upload->upload_id,
                   job.adapter_id, error.message);
      return fail(state, "upload_expired",
                  "the uploaded bytes are no longer kept (uploads wait at most a day to be "
                  "validated); upload the file again");
    }
    spdlog::warn("validate: reading upload {} of adapter {} failed, the job will be retried: {}",
                 job.upload->upload_id, job.adapter_id, error.message);
    validate_metrics().failure("kafka");
    return Outcome::retry;
  }
  auto summary = adapter::validate_adapter(received->header, config, *base,
                                           schema::limits(tier).max_rank, job.upload->lora_alpha);
  if (!summary) return fail(state, "invalid_adapter", summary.error().message);
  return validated(job, state, received.value(), summary.value(), *base);
}

JobHandler::Outcome JobHandler::validated(const schema::Job& job, const schema::AdapterState& state,
                                          const ReceivedUpload& received,
                                          const adapter::AdapterSummary& summary,
                                          const BaseModel& base) {
  auto out = next(state);
  auto& a = out.adapter;
  a.status = schema::AdapterStatus::validating;
  a.error.reset();
  a.sha256 = received.sha256;
  a.size_bytes = received.size_bytes;
  a.rank = summary.rank;
  a.target_modules = summary.target_modules;
  out.validated = true;
  // What the agent writes next to the weights: vLLM reads r, alpha and modules from it.
  out.adapter_config = adapter::render_adapter_config(adapter::VllmAdapterConfig{
      summary.rank, summary.lora_alpha, summary.target_modules, base.hf_repo, summary.use_rslora});
  out.upload_location = location_of(*job.upload);
  if (auto st = writer_.write(out); !st) return written(st, "validated state", Outcome::done);
  spdlog::info("validate: adapter {} validated (rank {}, {} bytes)", a.id, a.rank, a.size_bytes);
  return Outcome::done;
}

}  // namespace loraplane::validate
