// An agent under test with everything around it real but local: one embedded mock cluster
// shared by all cases (its first group join takes seconds), an engine simulator on its own io
// thread (restartable on the same port), blob servers that serve adapter bytes as storage nodes
// do (or corrupt them), a producer of load events and a reader of published residency.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/asio.hpp"
#include "common/http.hpp"
#include "common/kafka.hpp"
#include "schema/types.hpp"
#include "test/support/http_client.hpp"
#include "test/support/process.hpp"
#include "workers/agent/agent.hpp"
#include "workers/sim_engine/sim_engine.hpp"

namespace loraplane::agent::test {

using loraplane::test::HttpResult;

// A small valid LoRA (q_proj of two 64-wide layers); `variant` changes the bytes (header
// padding) so adapters have distinct sha256.
std::string adapter_weights(int variant, int rank = 8);
std::string adapter_config(int rank = 8);

// Shared embedded cluster with loraplane's topics.
kafka::Cluster& cluster();

// Polls every 20 ms until `condition` holds or `limit` passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(30));

// One engine simulator on its own io thread.
class EngineHost {
 public:
  explicit EngineHost(sim_engine::SimEngineOptions options);
  ~EngineHost();
  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> adapters() const;  // lora names in /v1/models
  std::optional<std::string> adapter_root(const std::string& lora_name) const;
  double loads() const;  // loraplane_sim_adapter_loads_total
  double unloads() const;
  double running() const;  // vllm:num_requests_running
  double waiting() const;  // vllm:num_requests_waiting
  // A non-streamed chat of one token on `model`, as a gateway forwards it.
  HttpResult chat(const std::string& model) const;

 private:
  asio::io_context io_;
  std::unique_ptr<sim_engine::SimEngine> engine_;
  std::thread thread_;
  std::uint16_t port_ = 0;
};

// Blob endpoints as a storage node serves them; `corrupt` flips a byte of every answer.
struct BlobServer {
  std::mutex mu;
  std::map<std::string, std::string> blobs;  // sha256 → bytes
  bool corrupt = false;
  std::atomic<int> requests{0};
  std::unique_ptr<http::Server> server;
  std::string url() const;  // base url of the node
};

class Fixture {
 public:
  // `base` names the base model (distinct per case: the cluster and its topics are shared).
  explicit Fixture(std::string base, std::size_t max_loras = 2,
                   sim_engine::SimEngineOptions engine = engine_options());
  ~Fixture();
  static sim_engine::SimEngineOptions engine_options();

  AgentOptions agent_options() const;
  Agent& start_agent(AgentOptions options);
  Agent& start_agent() { return start_agent(agent_options()); }
  void stop_agent();
  void restart_engine();  // on the same port, empty (a stopped one starts again)
  void stop_engine();     // the port refuses connections until restart_engine()

  BlobServer& add_blob_server(bool corrupt = false);
  // Stores the weights on every blob server and publishes adapter.ready with their urls (or
  // `urls` when given). Returns the event.
  schema::LoadEvent publish_ready(const std::string& adapter_id, int variant,
                                  std::optional<std::vector<std::string>> urls = std::nullopt);
  void publish_deleted(const std::string& adapter_id);
  // Writes the adapter's loraplane.adapters record (as the validate worker does) for `event`'s
  // adapter with `status`.
  void publish_state(const schema::LoadEvent& event, schema::AdapterStatus status);
  // publish_ready without the load event: only the blob servers get the bytes.
  schema::LoadEvent stage(const std::string& adapter_id, int variant);

  HttpResult ensure(const std::string& adapter_id) const;
  HttpResult ensure(const std::string& adapter_id, const std::vector<std::string>& evict_order) const;
  std::string lora(const std::string& adapter_id) const { return base_ + ":" + adapter_id; }
  bool engine_has(const std::string& adapter_id) const;
  schema::Residency residency() const { return agent_->residency(); }
  // The newest residency record of this agent's engine read back from loraplane.residency.
  std::optional<schema::Residency> published() const;
  std::string adapter_dir(const std::string& adapter_id) const;

  EngineHost& engine() { return *engine_; }
  Agent& agent() { return *agent_; }
  const std::string& base() const { return base_; }
  const std::string& data_dir() const { return dir_.path(); }

 private:
  std::string base_;
  std::size_t max_loras_;
  sim_engine::SimEngineOptions engine_options_;
  loraplane::test::TempDir dir_;
  asio::io_context io_;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread io_thread_;
  std::unique_ptr<EngineHost> engine_;
  std::uint16_t engine_port_ = 0;  // kept while the engine is stopped
  std::vector<std::unique_ptr<BlobServer>> blob_servers_;
  std::unique_ptr<kafka::Producer> producer_;
  mutable std::mutex residency_mu_;
  std::map<std::string, schema::Residency> residency_;
  std::unique_ptr<kafka::Consumer> residency_reader_;
  std::unique_ptr<Agent> agent_;
};

bool contains(const std::vector<std::string>& list, const std::string& item);

}  // namespace loraplane::agent::test
