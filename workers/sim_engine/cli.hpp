// Command-line face of `loraplane sim-engine`, so cmd/ only forwards: the flags (ARCHITECTURE
// §5: --port --base --max-loras --max-cpu-loras --ttft-ms --itl-ms --load-bandwidth --seed, plus
// --profile and the other settings), the options they make, and a blocking run loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "workers/sim_engine/options.hpp"

namespace CLI {
class App;
}

namespace loraplane::sim_engine {

struct SimEngineFlags {
  std::string profile = "realistic";
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string base = "toy-llama";
  std::string base_root;
  std::size_t max_loras = 8;
  std::size_t max_cpu_loras = 0;
  int max_lora_rank = 64;
  std::size_t max_num_seqs = 256;
  std::size_t max_waiting = 1024;
  std::uint32_t max_model_len = 8192;
  std::size_t embedding_dim = 0;
  std::uint64_t seed = 0;
  // Costs: negative means "as the profile says".
  double ttft_ms = -1;
  double itl_ms = -1;
  double load_fixed_ms = -1;
  double load_bandwidth = -1;  // bytes/s
  double swap_bandwidth = -1;  // bytes/s
};

// Registers the flags on the `sim-engine` sub-command; parsed values land in `flags`.
void add_flags(CLI::App& command, SimEngineFlags& flags);
// profile(flags.profile) with every setting and every given cost applied. Throws
// std::invalid_argument for an unknown profile.
SimEngineOptions to_options(const SimEngineFlags& flags);
// Runs one engine on its own io_context until SIGINT/SIGTERM; returns the process exit code
// (1 when it cannot start). Logging must already be set up.
int run(const SimEngineOptions& options);

}  // namespace loraplane::sim_engine
