// Settings of the engine simulator (`loraplane sim-engine`): what one vLLM engine with
// `--enable-lora` is configured with, plus the costs it models, and the named profiles
// `realistic` and `instant`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace loraplane::sim_engine {

using Millis = std::chrono::duration<double, std::milli>;

struct SimEngineOptions {
  // Listener.
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0 = any free port
  // vLLM sets no limit; this one only bounds memory, above any gateway's (4 MiB by default).
  std::size_t max_body_bytes = std::size_t{16} << 20;
  bool register_health = true;  // report "sim-engine:<base>@<port>" to /healthz of this process
  bool process_metrics = true;  // append the process-wide loraplane_* registry to /metrics

  // The one base model: `id` of /v1/models and the `model` clients send; `root` its path.
  std::string base_model = "toy-llama";
  std::string base_model_root;  // empty: same as base_model
  std::uint32_t max_model_len = 8192;
  // An embedding model (vLLM's pooling runner): /v1/embeddings answers vectors of this many
  // floats, and chat and completions are refused. 0: a generative model.
  std::size_t embedding_dim = 0;

  // vLLM's LoRA flags.
  std::size_t max_loras = 8;        // --max-loras: adapters on the GPU at once (LRU)
  std::size_t max_cpu_loras = 0;    // --max-cpu-loras: adapters in host memory; 0 = max_loras
  int max_lora_rank = 64;           // --max-lora-rank
  std::size_t max_adapters = 1024;  // registered adapters (not a vLLM flag: our bound)

  // Batching.
  std::size_t max_num_seqs = 256;         // --max-num-seqs: requests running at once
  std::size_t max_waiting = 1024;         // waiting requests beyond which we answer 503
  std::uint32_t default_max_tokens = 16;  // /v1/completions default, as vLLM

  // Costs.
  Millis ttft{0};               // admission (adapter on the GPU) to first token
  Millis itl{0};                // between tokens
  Millis load_fixed{0};         // per adapter load from disk, on top of bytes / load_bandwidth
  double load_bandwidth = 2e9;  // bytes/s disk → host memory; <= 0: no per-byte cost
  double swap_bandwidth = 0;    // bytes/s host → GPU; 0: 4 × load_bandwidth

  std::uint64_t seed = 0;  // generated text is a function of (seed, model, prompt)

  std::size_t cpu_slots() const { return max_cpu_loras == 0 ? max_loras : max_cpu_loras; }
  double effective_swap_bandwidth() const {
    return swap_bandwidth > 0 ? swap_bandwidth : 4 * load_bandwidth;
  }
};

// Named cost profiles on top of the defaults above.
//   realistic: TTFT 150 ms, ITL 20 ms, 2 GB/s adapter loads plus 50 ms fixed — a mid-size
//              (7–8B) model on one data-centre GPU under moderate load; see profile.cpp.
//   instant:   every cost zero: answers at once, for measuring the gateway's own overhead.
// Throws std::invalid_argument for any other name (a startup error).
SimEngineOptions profile(std::string_view name);

// Rejects settings the engine cannot run with (max_loras 0, cpu slots < max_loras, a rank vLLM
// does not accept, ...). Errc::invalid_argument naming the setting.
Status validate(const SimEngineOptions& options);

// Time to bring `bytes` from disk into host memory, respectively from host memory to the GPU.
std::chrono::nanoseconds load_cost(const SimEngineOptions& options, std::uint64_t bytes);
std::chrono::nanoseconds swap_cost(const SimEngineOptions& options, std::uint64_t bytes);

}  // namespace loraplane::sim_engine
