// Profiles, validation and the two cost formulas of SimEngineOptions.
//
// Where the `realistic` numbers come from (orders of magnitude, not measurements of ours):
// - TTFT 150 ms and ITL 20 ms: typical of a 7–8B model served by vLLM on one A100/H100 with a
//   few dozen concurrent streams and prompts of a few hundred tokens — prefill of the batch
//   plus queueing lands in the 100–200 ms range, decode at ~40–60 tokens/s per stream.
// - 2 GB/s: the adapter load bandwidth ARCHITECTURE.md §5 states for simulated engines (local
//   NVMe read plus safetensors deserialisation into pinned host memory).
// - 50 ms fixed: per-load overhead of opening the directory, parsing adapter_config.json,
//   building the LoRA model object and its punica buffers, independent of size.
// - host → GPU at 4 × the disk bandwidth (8 GB/s): a PCIe 4.0 x16 copy, many small tensors.
#include "workers/sim_engine/options.hpp"

#include <array>
#include <cmath>
#include <stdexcept>
#include <string>

namespace loraplane::sim_engine {

SimEngineOptions profile(std::string_view name) {
  SimEngineOptions options;
  if (name == "realistic") {
    options.ttft = Millis(150);
    options.itl = Millis(20);
    options.load_fixed = Millis(50);
    options.load_bandwidth = 2e9;
    return options;
  }
  if (name == "instant") {
    options.ttft = Millis(0);
    options.itl = Millis(0);
    options.load_fixed = Millis(0);
    options.load_bandwidth = 0;
    options.swap_bandwidth = 0;
    return options;
  }
  throw std::invalid_argument("unknown sim-engine profile '" + std::string(name) +
                              "' (expected realistic or instant)");
}

Status validate(const SimEngineOptions& o) {
  auto bad = [](std::string what) { return make_error(Errc::invalid_argument, std::move(what)); };
  if (o.base_model.empty() || o.base_model.size() > 256) return bad("base model: 1-256 bytes");
  if (o.max_loras == 0) return bad("max_loras must be at least 1");
  if (o.cpu_slots() < o.max_loras)
    return bad("max_cpu_loras (" + std::to_string(o.max_cpu_loras) + ") must be >= max_loras (" +
               std::to_string(o.max_loras) + ")");
  constexpr std::array kRanks{1, 8, 16, 32, 64, 128, 256, 320, 512};
  bool rank_ok = false;
  for (int r : kRanks) rank_ok = rank_ok || r == o.max_lora_rank;
  if (!rank_ok)
    return bad("max_lora_rank must be one of 1, 8, 16, 32, 64, 128, 256, 320, 512 (as vLLM)");
  if (o.max_num_seqs == 0) return bad("max_num_seqs must be at least 1");
  if (o.max_adapters == 0) return bad("max_adapters must be at least 1");
  if (o.max_model_len < 2) return bad("max_model_len must be at least 2");
  if (o.default_max_tokens == 0) return bad("default_max_tokens must be at least 1");
  if (o.ttft.count() < 0 || o.itl.count() < 0 || o.load_fixed.count() < 0)
    return bad("latencies must not be negative");
  if (o.max_body_bytes < 1024) return bad("max_body_bytes must be at least 1024");
  return {};
}

namespace {

std::chrono::nanoseconds bytes_over(std::uint64_t bytes, double bandwidth) {
  if (bandwidth <= 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(std::llround(static_cast<double>(bytes) * 1e9 / bandwidth));
}

}  // namespace

std::chrono::nanoseconds load_cost(const SimEngineOptions& o, std::uint64_t bytes) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(o.load_fixed) +
         bytes_over(bytes, o.load_bandwidth);
}

std::chrono::nanoseconds swap_cost(const SimEngineOptions& o, std::uint64_t bytes) {
  return bytes_over(bytes, o.effective_swap_bandwidth());
}

}  // namespace loraplane::sim_engine
