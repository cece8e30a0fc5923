#include "workers/validate/validate_metrics.hpp"

#include <string>

#include "common/metrics.hpp"

namespace loraplane::validate {

namespace {

// Jobs range from a delete (one round trip) to re-reading and hashing 500 MB of chunks.
prometheus::Histogram::BucketBoundaries duration_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
}

}  // namespace

ValidateMetrics::ValidateMetrics()
    : jobs_(prometheus::BuildCounter()
                .Name("loraplane_validate_jobs_total")
                .Help("Jobs handled by the validate worker, by kind and outcome")
                .Register(metrics::registry())),
      failures_(prometheus::BuildCounter()
                    .Name("loraplane_validate_failures_total")
                    .Help("Adapters failed or jobs not handled by the validate worker, by reason")
                    .Register(metrics::registry())),
      duration_(prometheus::BuildHistogram()
                    .Name("loraplane_validate_job_duration_seconds")
                    .Help("Time the validate worker spent on one job, by kind")
                    .Register(metrics::registry())),
      swept_(prometheus::BuildCounter()
                 .Name("loraplane_validate_tenant_sweep_deletes_total")
                 .Help("Delete jobs the validate worker queued for adapters of deleted tenants")
                 .Register(metrics::registry())
                 .Add({})) {}

void ValidateMetrics::job(std::string_view kind, std::string_view outcome) {
  jobs_.Add({{"kind", std::string(kind)}, {"outcome", std::string(outcome)}}).Increment();
}

void ValidateMetrics::failure(std::string_view reason) {
  failures_.Add({{"reason", std::string(reason)}}).Increment();
}

void ValidateMetrics::duration(std::string_view kind, double seconds) {
  duration_.Add({{"kind", std::string(kind)}}, duration_buckets()).Observe(seconds);
}

void ValidateMetrics::swept(std::size_t adapters) {
  swept_.Increment(static_cast<double>(adapters));
}

ValidateMetrics& validate_metrics() {
  static ValidateMetrics metrics;
  return metrics;
}

}  // namespace loraplane::validate
