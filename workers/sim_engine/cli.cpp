#include "workers/sim_engine/cli.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>

#include "common/asio.hpp"
#include "workers/sim_engine/sim_engine.hpp"

namespace loraplane::sim_engine {

void add_flags(CLI::App& c, SimEngineFlags& f) {
  c.add_option("--profile", f.profile, "cost profile: realistic | instant")
      ->check(CLI::IsMember({"realistic", "instant"}))
      ->capture_default_str();
  c.add_option("--host", f.host, "listen address")->capture_default_str();
  c.add_option("--port", f.port, "listen port (0 = any free port)")->capture_default_str();
  c.add_option("--base", f.base, "served base model name")->capture_default_str();
  c.add_option("--base-root", f.base_root, "`root` of the base model in /v1/models");
  c.add_option("--max-loras", f.max_loras, "adapters on the GPU at once")->capture_default_str();
  c.add_option("--max-cpu-loras", f.max_cpu_loras, "adapters in host memory (0 = max-loras)")
      ->capture_default_str();
  c.add_option("--max-lora-rank", f.max_lora_rank, "largest adapter rank accepted")
      ->capture_default_str();
  c.add_option("--max-num-seqs", f.max_num_seqs, "requests running at once")->capture_default_str();
  c.add_option("--max-waiting", f.max_waiting, "waiting requests before answering 503")
      ->capture_default_str();
  c.add_option("--max-model-len", f.max_model_len, "context length")->capture_default_str();
  c.add_option("--embedding-dim", f.embedding_dim,
               "an embedding model answering vectors of this size (0 = a generative model)")
      ->capture_default_str();
  c.add_option("--seed", f.seed, "seed of the generated text")->capture_default_str();
  c.add_option("--ttft-ms", f.ttft_ms, "time to first token (default: the profile's)");
  c.add_option("--itl-ms", f.itl_ms, "inter-token latency (default: the profile's)");
  c.add_option("--load-fixed-ms", f.load_fixed_ms, "fixed cost per adapter load");
  c.add_option("--load-bandwidth", f.load_bandwidth, "adapter load bandwidth, bytes/s");
  c.add_option("--swap-bandwidth", f.swap_bandwidth,
               "host memory to GPU bandwidth, bytes/s (default 4 x load bandwidth)");
}

SimEngineOptions to_options(const SimEngineFlags& f) {
  SimEngineOptions o = profile(f.profile);
  o.host = f.host;
  o.port = f.port;
  o.base_model = f.base;
  o.base_model_root = f.base_root;
  o.max_loras = f.max_loras;
  o.max_cpu_loras = f.max_cpu_loras;
  o.max_lora_rank = f.max_lora_rank;
  o.max_num_seqs = f.max_num_seqs;
  o.max_waiting = f.max_waiting;
  o.max_model_len = f.max_model_len;
  o.embedding_dim = f.embedding_dim;
  o.seed = f.seed;
  if (f.ttft_ms >= 0) o.ttft = Millis(f.ttft_ms);
  if (f.itl_ms >= 0) o.itl = Millis(f.itl_ms);
  if (f.load_fixed_ms >= 0) o.load_fixed = Millis(f.load_fixed_ms);
  if (f.load_bandwidth >= 0) o.load_bandwidth = f.load_bandwidth;
  if (f.swap_bandwidth >= 0) o.swap_bandwidth = f.swap_bandwidth;
  return o;
}

int run(const SimEngineOptions& options) {
  asio::io_context io;
  SimEngine engine(io, options);
  try {
    engine.start();
  } catch (const std::exception& e) {
    spdlog::error("sim-engine failed to start: {}", e.what());
    return 1;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    spdlog::info("sim-engine: signal {}, stopping", signo);
    engine.stop();
    io.stop();
  });
  io.run();
  spdlog::info("sim-engine stopped");
  return 0;
}

}  // namespace loraplane::sim_engine
