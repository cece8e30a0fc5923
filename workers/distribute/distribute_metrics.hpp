// The distribute worker's Prometheus families (process-wide registry, served on /metrics).
#pragma once

#include <string>
#include <string_view>

#include "common/metrics.hpp"

namespace loraplane::distribute {

struct DistributeMetrics {
  // loraplane_blob_store_bytes{node}: bytes of committed blobs in this node's store.
  prometheus::Family<prometheus::Gauge>& blob_store_bytes;
  // loraplane_distribute_stored_total{outcome}: copied | reused | reported | retry | failed.
  prometheus::Family<prometheus::Counter>& stored;
  // loraplane_distribute_refs_removed_total: adapter references dropped (deleted, failed).
  prometheus::Counter& refs_removed;
  // loraplane_blob_gc_deleted_total: unreferenced blobs removed by the periodic GC.
  prometheus::Counter& gc_deleted;
  // loraplane_blob_served_bytes_total: body bytes written by GET /internal/v1/blobs/{sha256}.
  prometheus::Counter& served_bytes;
  // loraplane_blob_active_responses: blob responses in progress (bounded; 503 beyond).
  prometheus::Gauge& active_responses;
  // loraplane_blob_busy_total: blob requests refused with 503 because the bound was reached.
  prometheus::Counter& busy;

  prometheus::Counter& stored_outcome(std::string_view outcome) {
    return stored.Add({{"outcome", std::string(outcome)}});
  }
};

DistributeMetrics& distribute_metrics();

}  // namespace loraplane::distribute
