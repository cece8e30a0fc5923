// loraplane_agent_* metrics, labelled by engine id (several agents may share a process).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <string>

namespace loraplane::agent {

struct AgentMetrics {
  explicit AgentMetrics(const std::string& engine_id);
  prometheus::Counter& loads;             // adapters registered into the engine
  prometheus::Counter& load_failures;     // ensure/pre-warm loads that failed
  prometheus::Counter& engine_evictions;  // unloaded from the engine to make room
  prometheus::Counter& disk_evictions;    // removed from disk for the budget
  prometheus::Counter& fetch_failures;    // one storage url that failed (network, status, sha)
  prometheus::Counter& ensures;
  prometheus::Counter& slot_waits;        // loads that waited for another load to free a slot
  prometheus::Counter& disk_waits;        // loads that waited for disk room held by others
  prometheus::Histogram& fetch_seconds;   // storage → local file (download + sha256)
  prometheus::Histogram& disk_seconds;    // config write, fsync, rename into place
  prometheus::Histogram& engine_seconds;  // the engine's load call
  prometheus::Histogram& total_seconds;   // one whole hot-load
  prometheus::Gauge& gpu;
  prometheus::Gauge& cpu;
  prometheus::Gauge& disk;
  prometheus::Gauge& loading;
  prometheus::Gauge& free_slots;
  prometheus::Gauge& engine_up;
  prometheus::Gauge& disk_bytes;
};

}  // namespace loraplane::agent
