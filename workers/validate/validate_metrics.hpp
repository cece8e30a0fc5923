// The validate worker's Prometheus families: jobs by kind and outcome, failures by reason, and
// how long each job took, and the deletes queued for deleted tenants' adapters.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include <cstddef>
#include <string_view>

namespace loraplane::validate {

class ValidateMetrics {
 public:
  // outcome: done | failed | skipped | ignored | retry | malformed
  void job(std::string_view kind, std::string_view outcome);
  // reason: an error code written to the adapter (invalid_adapter, adapter_exists, ...) or an
  // internal cause (kafka, malformed_job, unknown_adapter).
  void failure(std::string_view reason);
  void duration(std::string_view kind, double seconds);
  // Delete jobs queued for the adapters of deleted tenants (tenant_sweep.hpp).
  void swept(std::size_t adapters);

 private:
  friend ValidateMetrics& validate_metrics();
  ValidateMetrics();
  prometheus::Family<prometheus::Counter>& jobs_;
  prometheus::Family<prometheus::Counter>& failures_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Counter& swept_;
};

// Process-wide: every ValidateWorker of a process shares the families.
ValidateMetrics& validate_metrics();

}  // namespace loraplane::validate
