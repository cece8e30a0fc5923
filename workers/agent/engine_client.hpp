// The agent's seam to its engine: only vLLM's documented OpenAI-server API (GET /v1/models,
// POST /v1/load_lora_adapter, POST /v1/unload_lora_adapter, GET /metrics, GET /health), so the
// same code drives the simulator and a real `vllm serve --enable-lora` with
// VLLM_ALLOW_RUNTIME_LORA_UPDATING=True.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/asio.hpp"
#include "common/http_client.hpp"
#include "common/result.hpp"

namespace loraplane::agent {

// A LoRA adapter the engine has registered (a /v1/models entry with a parent).
struct EngineAdapter {
  std::string name;  // lora_name
  std::string path;  // root = lora_path
};

// What the agent reads from vLLM's Prometheus page.
struct EngineLoad {
  int waiting = 0;                  // vllm:num_requests_waiting
  int running = 0;                  // vllm:num_requests_running
  std::vector<std::string> active;  // lora names running or waiting (vllm:lora_requests_info)
};

class EngineClient {
 public:
  EngineClient(std::string base_url, http::ClientOptions options);
  const std::string& base_url() const { return base_url_; }

  // Errc::unavailable when the engine cannot be reached or answers 5xx.
  awaitable<Result<std::vector<EngineAdapter>>> list_adapters() const;
  // Errc::already_exists when vLLM says the name is already loaded; Errc::not_found when it
  // found no adapter at the path; Errc::invalid_argument for other 4xx (message = vLLM's).
  awaitable<Status> load(std::string lora_name, std::string lora_path) const;
  // Errc::not_found when the engine does not know the name.
  awaitable<Status> unload(std::string lora_name) const;
  awaitable<Result<EngineLoad>> load_stats() const;

 private:
  std::string base_url_;
  http::ClientOptions options_;
};

// Parsers, exposed for tests.
Result<std::vector<EngineAdapter>> parse_models(const std::string& body);
EngineLoad parse_engine_metrics(const std::string& text);
// The "message" of a vLLM error body (new nested or old flat shape), else the body itself.
std::string error_message(const std::string& body);

}  // namespace loraplane::agent
