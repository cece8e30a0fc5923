// `loraplane sim-engine`: a stand-in for one `vllm serve --enable-lora` engine with
// VLLM_ALLOW_RUNTIME_LORA_UPDATING=True. It speaks vLLM's OpenAI server API (chat/completions
// and completions with SSE, /v1/models with adapters, runtime load/unload with vLLM's status
// codes and messages, /health, /metrics with vllm:* names) and models what costs time on a GPU:
// max_loras GPU slots (LRU), max_cpu_loras host-memory slots, load time = fixed + bytes /
// bandwidth, time to first token, inter-token latency and the max_num_seqs batch.
//
// Wiring: construct on a single-threaded io_context, start(), read port(); stop() before the
// io_context stops. Several engines may share one io_context and one process.
#pragma once

#include <cstdint>
#include <memory>

#include "common/asio.hpp"
#include "workers/sim_engine/options.hpp"

namespace loraplane::sim_engine {

struct EngineState;

class SimEngine {
 public:
  SimEngine(asio::io_context& io, SimEngineOptions options);
  ~SimEngine();
  SimEngine(const SimEngine&) = delete;
  SimEngine& operator=(const SimEngine&) = delete;

  // Validates the options and binds the listener; throws std::invalid_argument for bad options
  // and std::system_error when the port cannot be bound. Logs "sim-engine <base> listening on
  // http://<host>:<port>".
  void start();
  std::uint16_t port() const;
  // Stops accepting, refuses queued requests with 503 and ends running streams at their next
  // token. Idempotent; safe from any thread.
  void stop();
  const SimEngineOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace loraplane::sim_engine
