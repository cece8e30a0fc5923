// Test helpers for the engine simulator: an engine running in-process on its own io thread
// (port 0), tiny but valid toy-llama adapter directories written by the test, and small
// parsers for SSE bodies and /metrics text.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/asio.hpp"
#include "test/support/http_client.hpp"
#include "test/support/process.hpp"
#include "workers/sim_engine/sim_engine.hpp"

namespace loraplane::sim_engine::test {

using loraplane::test::HttpResult;

// Options for tests: the instant profile on base "toy-llama", seed 7.
SimEngineOptions test_options();

class EngineFixture {
 public:
  explicit EngineFixture(SimEngineOptions options = test_options());
  ~EngineFixture();

  std::uint16_t port() const { return port_; }
  const std::string& dir() const { return tmp_.path(); }

  HttpResult get(const std::string& target) const;
  HttpResult post(const std::string& target, const std::string& body) const;
  HttpResult post_json(const std::string& target, const boost::json::value& body) const;

  // Writes a toy-llama adapter under dir()/name and returns its path.
  std::string make_adapter(const std::string& name, int rank = 8) const;
  // make_adapter + load; checks the load answered 200.
  std::string load(const std::string& name, int rank = 8) const;
  HttpResult chat(const std::string& model, const std::string& prompt, int max_tokens = 5,
                  bool stream = false, bool include_usage = false) const;

 private:
  loraplane::test::TempDir tmp_;
  asio::io_context io_;
  std::unique_ptr<SimEngine> engine_;
  std::thread thread_;
  std::uint16_t port_ = 0;
};

// A toy-llama LoRA on q_proj of both layers: config JSON and safetensors bytes.
std::string adapter_config_json(int rank);
std::string adapter_safetensors(int rank);
void write_file(const std::string& path, const std::string& bytes);

// "data: <payload>\n\n" events of an SSE body, in order, payloads only.
std::vector<std::string> sse_events(const std::string& body);
// `name{labels} value` lines of /metrics text whose name matches exactly.
struct MetricSample {
  std::map<std::string, std::string> labels;
  double value = 0;
};
std::vector<MetricSample> samples(const std::string& metrics_text, const std::string& name);
// The value of the one sample of `name` (with any labels); -1 when absent.
double metric_value(const std::string& metrics_text, const std::string& name);
// The vllm:lora_requests_info series with the newest timestamp.
MetricSample latest_lora_info(const std::string& metrics_text);

// Polls `condition` every 10 ms until it holds or `limit` passes; returns whether it held.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(10));

}  // namespace loraplane::sim_engine::test
