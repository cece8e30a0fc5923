#include "workers/agent/agent_metrics.hpp"

#include "common/metrics.hpp"

namespace loraplane::agent {

namespace {

struct Families {
  prometheus::Family<prometheus::Counter>& loads =
      prometheus::BuildCounter()
          .Name("loraplane_agent_loads_total")
          .Help("Adapters the agent registered into its engine")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Counter>& load_failures =
      prometheus::BuildCounter()
          .Name("loraplane_agent_load_failures_total")
          .Help("Hot-loads that failed (fetch, disk or engine)")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Counter>& evictions =
      prometheus::BuildCounter()
          .Name("loraplane_agent_evictions_total")
          .Help("Adapters evicted: from the engine (to free a slot) or from disk (budget)")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Counter>& fetch_failures =
      prometheus::BuildCounter()
          .Name("loraplane_agent_fetch_failures_total")
          .Help("Blob fetches from one storage url that failed (network, status, sha256)")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Counter>& ensures = prometheus::BuildCounter()
                                                         .Name("loraplane_agent_ensures_total")
                                                         .Help("POST /internal/v1/ensure calls")
                                                         .Register(metrics::registry());
  prometheus::Family<prometheus::Counter>& slot_waits =
      prometheus::BuildCounter()
          .Name("loraplane_agent_slot_waits_total")
          .Help("Loads that found every slot held by loads in progress and waited for one")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Counter>& disk_waits =
      prometheus::BuildCounter()
          .Name("loraplane_agent_disk_waits_total")
          .Help("Loads that found the disk budget held by downloads and loads in progress and "
                "waited for room")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Histogram>& hot_load =
      prometheus::BuildHistogram()
          .Name("loraplane_agent_hot_load_seconds")
          .Help("Hot-load duration by phase: fetch, disk, engine_load, total")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Gauge>& adapters =
      prometheus::BuildGauge()
          .Name("loraplane_agent_adapters")
          .Help("Adapters of this engine by residency: gpu, cpu, disk, loading")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Gauge>& engine_up =
      prometheus::BuildGauge()
          .Name("loraplane_agent_engine_up")
          .Help("1 while the engine answers the agent's checks; while 0 the agent publishes no "
                "heartbeat, so gateways stop routing to the engine")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Gauge>& free_slots =
      prometheus::BuildGauge()
          .Name("loraplane_agent_free_slots")
          .Help("Engine adapter slots free for a load without eviction")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Gauge>& disk_bytes =
      prometheus::BuildGauge()
          .Name("loraplane_agent_disk_bytes")
          .Help("Bytes of adapter weights in the agent's local directory")
          .Register(metrics::registry());
};

Families& families() {
  static Families f;
  return f;
}

const prometheus::Histogram::BucketBoundaries& buckets() {
  static const prometheus::Histogram::BucketBoundaries b{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60};
  return b;
}

}  // namespace

AgentMetrics::AgentMetrics(const std::string& e)
    : loads(families().loads.Add({{"engine", e}})),
      load_failures(families().load_failures.Add({{"engine", e}})),
      engine_evictions(families().evictions.Add({{"engine", e}, {"from", "engine"}})),
      disk_evictions(families().evictions.Add({{"engine", e}, {"from", "disk"}})),
      fetch_failures(families().fetch_failures.Add({{"engine", e}})),
      ensures(families().ensures.Add({{"engine", e}})),
      slot_waits(families().slot_waits.Add({{"engine", e}})),
      disk_waits(families().disk_waits.Add({{"engine", e}})),
      fetch_seconds(families().hot_load.Add({{"engine", e}, {"phase", "fetch"}}, buckets())),
      disk_seconds(families().hot_load.Add({{"engine", e}, {"phase", "disk"}}, buckets())),
      engine_seconds(families().hot_load.Add({{"engine", e}, {"phase", "engine_load"}}, buckets())),
      total_seconds(families().hot_load.Add({{"engine", e}, {"phase", "total"}}, buckets())),
      gpu(families().adapters.Add({{"engine", e}, {"state", "gpu"}})),
      cpu(families().adapters.Add({{"engine", e}, {"state", "cpu"}})),
      disk(families().adapters.Add({{"engine", e}, {"state", "disk"}})),
      loading(families().adapters.Add({{"engine", e}, {"state", "loading"}})),
      free_slots(families().free_slots.Add({{"engine", e}})),
      engine_up(families().engine_up.Add({{"engine", e}})),
      disk_bytes(families().disk_bytes.Add({{"engine", e}})) {}

}  // namespace loraplane::agent
