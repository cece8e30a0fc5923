#include "workers/validate/job_handler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "common/log.hpp"
#include "common/request_id.hpp"
#include "common/unix_time.hpp"
#include "schema/json.hpp"
#include "workers/validate/validate_metrics.hpp"

namespace loraplane::validate {

namespace {

constexpr std::size_t kMaxErrorMessageBytes = 4096;

std::string bounded(std::string message) {
  if (message.size() > kMaxErrorMessageBytes) {
    message.resize(kMaxErrorMessageBytes - 3);
    message += "...";
  }
  return message;
}

}  // namespace

std::string_view JobHandler::label(Outcome outcome) {
  switch (outcome) {
    case Outcome::done:
      return "done";
    case Outcome::failed:
      return "failed";
    case Outcome::skipped:
      return "skipped";
    case Outcome::ignored:
      return "ignored";
    case Outcome::retry:
      return "retry";
  }
  return "unknown";
}

kafka::Handled JobHandler::handle(const kafka::Message& message) {
  // Synchronous on the job consumer's own thread: every line logged while handling this job,
  // helpers included, carries the role and the id of the request that caused it.
  const auto request_id = kafka::request_id_of(message);
  logging::ThreadScope scope({"validate", request_id});
  writer_.set_request_id(request_id);
  const auto start = std::chrono::steady_clock::now();
  auto& metrics = validate_metrics();
  auto job = message.tombstone
                 ? Result<schema::Job>(make_error(Errc::invalid_argument, "null value"))
                 : schema::parse<schema::Job>(message.value);
  if (job && job->tenant_id != message.key)
    job = make_error(Errc::invalid_argument, "tenant_id differs from the message key");
  if (!job) {
    // A poison message must not block the tenant's partition: log, count, move on.
    spdlog::warn("validate: skipping malformed job at {} [{}] @{}: {}", message.topic,
                 message.partition, message.offset, job.error().message);
    metrics.job("unknown", "malformed");
    metrics.failure("malformed_job");
    return kafka::Handled::done;
  }
  spdlog::info("validate: {} job {} for adapter {} started", schema::to_string(job->kind),
               job->job_id, job->adapter_id);
  Outcome outcome = dispatch(job.value());
  // A wait cut short by stop() looks like a missing record: leave the job to the next owner
  // (every step is idempotent) rather than commit it unhandled.
  if (outcome == Outcome::ignored && stopping_.load()) outcome = Outcome::retry;
  const auto kind = schema::to_string(job->kind);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics.job(kind, label(outcome));
  metrics.duration(kind, seconds);
  spdlog::info("validate: {} job {} for adapter {}: {} in {:.3f} s", kind, job->job_id,
               job->adapter_id, label(outcome), seconds);
  return outcome == Outcome::retry ? kafka::Handled::retry : kafka::Handled::done;
}

JobHandler::Outcome JobHandler::dispatch(const schema::Job& job) {
  switch (job.kind) {
    case schema::JobKind::upload:
      return upload(job);
    case schema::JobKind::remove:
      return remove(job);
    case schema::JobKind::stored:
      return stored(job);
    case schema::JobKind::import:
      return import(job);
  }
  return Outcome::ignored;
}

std::optional<schema::AdapterState> JobHandler::adapter_of(const schema::Job& job) {
  auto wait = options_.state_wait;
  if (job.kind == schema::JobKind::upload || job.kind == schema::JobKind::import) {
    const auto age = std::chrono::seconds(unix_now_seconds() - job.created_at);
    if (age < options_.new_adapter_window) wait = std::max(wait, options_.new_adapter_wait);
  }
  auto state = adapters_.wait_for(job.adapter_id, wait);
  if (!state) {
    // For a new adapter: its gateway failed between the job and the record (no 202 was given).
    spdlog::info("validate: {} job {}: adapter {} is unknown or gone", schema::to_string(job.kind),
                 job.job_id, job.adapter_id);
    return std::nullopt;
  }
  if (state->tenant_id != job.tenant_id) {
    // Never act on another tenant's adapter, whatever the job says.
    spdlog::warn("validate: {} job {}: adapter {} belongs to another tenant",
                 schema::to_string(job.kind), job.job_id, job.adapter_id);
    validate_metrics().failure("wrong_tenant");
    return std::nullopt;
  }
  return state;
}

schema::AdapterState JobHandler::next(const schema::AdapterState& state) {
  schema::AdapterState out = state;
  out.seq = state.seq + 1;
  out.updated_at = unix_now_seconds();
  return out;
}

JobHandler::Outcome JobHandler::fail(const schema::AdapterState& state, std::string_view code,
                                     std::string message) {
  auto failed = next(state);
  failed.adapter.status = schema::AdapterStatus::failed;
  failed.adapter.error = schema::AdapterError{std::string(code), bounded(std::move(message))};
  failed.validated = false;
  auto st = writer_.write(failed);
  if (!st) return written(st, "failed state", Outcome::failed);
  validate_metrics().failure(code);
  spdlog::info("validate: adapter {} failed: {}: {}", state.adapter.id, code,
               failed.adapter.error->message);
  prune_failed(state.tenant_id, state.adapter.id);
  return Outcome::failed;
}

JobHandler::Outcome JobHandler::written(const Status& status, std::string_view what, Outcome ok) {
  if (status) return ok;
  spdlog::warn("validate: writing {} failed, the job will be retried: {}", what,
               status.error().message);
  validate_metrics().failure("kafka");
  return Outcome::retry;
}

}  // namespace loraplane::validate
