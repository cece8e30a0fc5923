#include "workers/distribute/distribute_metrics.hpp"

namespace loraplane::distribute {

namespace {

prometheus::Counter& counter(const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(metrics::registry()).Add({});
}

DistributeMetrics make_metrics() {
  auto& reg = metrics::registry();
  return DistributeMetrics{
      prometheus::BuildGauge()
          .Name("loraplane_blob_store_bytes")
          .Help("Bytes of committed blobs in the storage node's blob store")
          .Register(reg),
      prometheus::BuildCounter()
          .Name("loraplane_distribute_stored_total")
          .Help("Adapter blobs handled by the distribute worker, by outcome")
          .Register(reg),
      counter("loraplane_distribute_refs_removed_total",
              "Adapter references dropped from the blob store (deleting, failed, tombstoned)"),
      counter("loraplane_blob_gc_deleted_total", "Unreferenced blobs deleted by the periodic GC"),
      counter("loraplane_blob_served_bytes_total", "Blob body bytes sent to agents"),
      prometheus::BuildGauge()
          .Name("loraplane_blob_active_responses")
          .Help("Blob responses in progress")
          .Register(reg)
          .Add({}),
      counter("loraplane_blob_busy_total",
              "Blob requests refused with 503 because too many responses were in progress"),
  };
}

}  // namespace

DistributeMetrics& distribute_metrics() {
  static DistributeMetrics metrics = make_metrics();
  return metrics;
}

}  // namespace loraplane::distribute
