// A gateway on the mock cluster with one simulated engine (instant profile, base toy-llama) and
// a fake agent: the test plays the agent's part by publishing schema::Residency records and by
// answering POST /internal/v1/ensure, which registers the adapter in the engine through its
// /v1/load_lora_adapter as the real agent does. Tenants are made through the admin API, adapter
// states are written to loraplane.adapters as the validate worker would.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/http.hpp"
#include "common/kafka.hpp"
#include "gateway/gateway.hpp"
#include "schema/types.hpp"
#include "test/support/http_client.hpp"
#include "test/unit/sim_engine/engine_fixture.hpp"

namespace loraplane::inference_test {

using loraplane::test::HttpResult;
inline const std::string kBase = "toy-llama";
inline const std::string kAdminToken = "inference-test-admin-token";

struct TenantKey {
  std::string id;
  std::string key;
};

class Stack {
 public:
  explicit Stack(sim_engine::SimEngineOptions engine = sim_engine::test::test_options(),
                 std::function<void(gateway::GatewayOptions&)> configure = {});
  ~Stack();

  std::uint16_t port() const { return port_; }
  std::string agent_url() const;
  std::string engine_url() const;
  sim_engine::test::EngineFixture& engine() { return *engine_; }

  TenantKey create_tenant(const std::string& name);
  // Writes an adapter state record and waits until the gateway shows it to its tenant.
  std::string add_adapter(const TenantKey& tenant, const std::string& name,
                          schema::AdapterStatus status = schema::AdapterStatus::ready);
  // Publishes the engine's residency and waits until the router's view shows it.
  void publish_residency(const std::vector<std::string>& gpu, int free_slots = 4,
                         const std::string& engine_id = "engine-0", std::string url = {});
  // Registers the adapter in the engine directly (as an agent's pre-warm would).
  void load_in_engine(const std::string& adapter_id);

  HttpResult post(const TenantKey& tenant, const std::string& target, const std::string& body);
  HttpResult get(const std::string& token, const std::string& target);

  // Adapter ids the fake agent was asked to ensure, in order.
  std::vector<std::string> ensured() const;
  // The evict_order of each of those ensures.
  std::vector<std::vector<std::string>> evict_orders() const;
  // The fake agent answers 404 for these (an adapter it has not heard of yet).
  void agent_does_not_know(const std::string& adapter_id);
  // The fake agent answers 200 for these without loading them (as when a concurrent load
  // evicted the adapter again right after its ensure).
  void agent_answers_without_loading(const std::string& adapter_id);

  // The fake agent answers 503 for these (the engine would not load it).
  void agent_fails(const std::string& adapter_id);
  // The fake agent runs this (on its own thread) when an ensure arrives, before it answers.
  void on_ensure(std::function<void()> action);

  // Called by the fake agent's handler (its own thread).
  http::Response handle_ensure(const std::string& body);

 private:
  void produce(std::string_view topic, const std::string& key, const std::string& value);

  std::unique_ptr<kafka::Cluster> cluster_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<sim_engine::test::EngineFixture> engine_;
  asio::io_context io_;
  std::unique_ptr<gateway::Gateway> gateway_;
  asio::io_context agent_io_;
  std::unique_ptr<http::Server> agent_;
  std::thread thread_;
  std::thread agent_thread_;
  std::uint16_t port_ = 0;
  std::uint16_t agent_port_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::string> ensured_;
  std::vector<std::vector<std::string>> evict_orders_;
  std::set<std::string> unknown_;
  std::set<std::string> not_loaded_;
  std::set<std::string> failing_;
  std::function<void()> on_ensure_;
};

std::map<std::string, std::string> bearer(const std::string& token);
boost::json::object parse_object(const std::string& body);
std::string chat_body(const std::string& model, bool stream = false);
std::string completion_body(const std::string& model, bool stream = false);

}  // namespace loraplane::inference_test
