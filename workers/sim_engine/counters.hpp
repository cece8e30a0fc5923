// What the simulator counts, rendered on /metrics as vllm:* (vLLM's own names) and
// loraplane_sim_* (the costs it models). Plain integers: the engine runs on one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace loraplane::sim_engine {

struct EngineCounters {
  // loraplane_sim_*
  std::uint64_t adapter_loads = 0;          // disk → host memory (API loads and reloads)
  std::uint64_t adapter_load_failures = 0;  // load API calls answered with an error
  std::uint64_t adapter_unloads = 0;
  std::uint64_t swaps = 0;                // host memory → GPU slot
  std::uint64_t gpu_evictions = 0;        // GPU slot given to another adapter
  std::uint64_t cpu_evictions = 0;        // dropped from host memory (reload from disk later)
  std::uint64_t rejected_queue_full = 0;  // 503 because the waiting queue was full
  std::uint64_t client_disconnects = 0;   // streams cut by the client before the end
  // vllm:*
  std::uint64_t prompt_tokens = 0;
  std::uint64_t generation_tokens = 0;
  std::map<std::string, std::uint64_t> finished;  // finished_reason → requests
};

}  // namespace loraplane::sim_engine
