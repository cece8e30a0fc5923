#include "test/unit/agent/agent_fixture.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <future>
#include <sstream>

#include "common/sha256.hpp"
#include "schema/json.hpp"

namespace loraplane::agent::test {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string adapter_config(int rank) {
  json::object config{{"peft_type", "LORA"},
                      {"r", rank},
                      {"lora_alpha", 2 * rank},
                      {"target_modules", json::array{"q_proj"}},
                      {"bias", "none"}};
  return json::serialize(config);
}

std::string adapter_weights(int variant, int rank) {
  const std::uint64_t tensor_bytes = static_cast<std::uint64_t>(rank) * 64 * 2;  // F16
  json::object header;
  std::uint64_t at = 0;
  for (int layer = 0; layer < 2; ++layer) {
    const std::string prefix =
        "base_model.model.model.layers." + std::to_string(layer) + ".self_attn.q_proj.";
    header[prefix + "lora_A.weight"] =
        json::object{{"dtype", "F16"},
                     {"shape", json::array{rank, 64}},
                     {"data_offsets", json::array{at, at + tensor_bytes}}};
    at += tensor_bytes;
    header[prefix + "lora_B.weight"] =
        json::object{{"dtype", "F16"},
                     {"shape", json::array{64, rank}},
                     {"data_offsets", json::array{at, at + tensor_bytes}}};
    at += tensor_bytes;
  }
  std::string text = json::serialize(header);
  while (text.size() % 8 != 0) text += ' ';
  text.append(static_cast<std::size_t>(8 * variant), ' ');
  std::string out(8, '\0');
  std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += text;
  for (std::uint64_t i = 0; i < at; ++i) out += static_cast<char>((i * 7 + variant) & 0x3f);
  return out;
}

kafka::Cluster& cluster() {
  static std::unique_ptr<kafka::Cluster> c = [] {
    auto made = kafka::Cluster::embedded();
    BOOST_REQUIRE(made->ensure_topics(kafka::default_topics(), 30s));
    return made;
  }();
  return *c;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// ---- engine ------------------------------------------------------------------------------

EngineHost::EngineHost(sim_engine::SimEngineOptions options) {
  // A restarted engine binds the port its predecessor just released.
  for (int attempt = 0;; ++attempt) {
    try {
      engine_ = std::make_unique<sim_engine::SimEngine>(io_, options);
      engine_->start();
      break;
    } catch (const std::exception&) {
      engine_.reset();
      if (attempt > 100) throw;
      std::this_thread::sleep_for(50ms);
    }
  }
  port_ = engine_->port();
  thread_ = std::thread([this] { io_.run(); });
}

EngineHost::~EngineHost() {
  engine_->stop();
  std::this_thread::sleep_for(20ms);
  io_.stop();
  thread_.join();
  engine_.reset();
}

std::vector<std::string> EngineHost::adapters() const {
  auto res = loraplane::test::http_request(port_, "GET", "/v1/models");
  std::vector<std::string> out;
  const auto doc = json::parse(res.body);
  for (const auto& m : doc.at("data").as_array())
    if (!m.at("parent").is_null()) out.emplace_back(m.at("id").as_string());
  return out;
}

std::optional<std::string> EngineHost::adapter_root(const std::string& lora_name) const {
  auto res = loraplane::test::http_request(port_, "GET", "/v1/models");
  const auto doc = json::parse(res.body);
  for (const auto& m : doc.at("data").as_array())
    if (m.at("id").as_string() == lora_name) return std::string(m.at("root").as_string());
  return std::nullopt;
}

namespace {

double metric(std::uint16_t port, const std::string& name) {
  auto res = loraplane::test::http_request(port, "GET", "/metrics");
  std::istringstream lines(res.body);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind(name + "{", 0) == 0 || line.rfind(name + " ", 0) == 0)
      return std::stod(line.substr(line.rfind(' ') + 1));
  return -1;
}

}  // namespace

double EngineHost::loads() const { return metric(port_, "loraplane_sim_adapter_loads_total"); }
double EngineHost::unloads() const { return metric(port_, "loraplane_sim_adapter_unloads_total"); }
double EngineHost::running() const { return metric(port_, "vllm:num_requests_running"); }
double EngineHost::waiting() const { return metric(port_, "vllm:num_requests_waiting"); }

HttpResult EngineHost::chat(const std::string& model) const {
  json::object message{{"role", "user"}, {"content", "hi"}};
  json::object body{{"model", model}, {"messages", json::array{message}}, {"max_tokens", 1}};
  return loraplane::test::http_request(port_, "POST", "/v1/chat/completions",
                                       json::serialize(body));
}

// ---- blob servers ------------------------------------------------------------------------

std::string BlobServer::url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }

namespace {

awaitable<http::Response> serve_blob(BlobServer* node, std::string sha) {
  ++node->requests;
  std::string bytes;
  {
    std::lock_guard lock(node->mu);
    auto it = node->blobs.find(sha);
    if (it == node->blobs.end())
      co_return http::error_response(http::Status::not_found, "invalid_request_error",
                                     "blob_not_found", "no such blob");
    bytes = it->second;
    if (node->corrupt) bytes[bytes.size() / 2] ^= 0x5a;
  }
  co_return http::text_response(http::Status::ok, std::move(bytes), "application/octet-stream");
}

}  // namespace

// ---- fixture -----------------------------------------------------------------------------

sim_engine::SimEngineOptions Fixture::engine_options() {
  auto o = sim_engine::profile("instant");
  o.register_health = false;
  o.process_metrics = false;
  return o;
}

Fixture::Fixture(std::string base, std::size_t max_loras, sim_engine::SimEngineOptions engine)
    : base_(std::move(base)), max_loras_(max_loras), engine_options_(std::move(engine)) {
  engine_options_.base_model = base_;
  engine_options_.max_loras = max_loras_;
  engine_ = std::make_unique<EngineHost>(engine_options_);
  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      io_.get_executor());
  io_thread_ = std::thread([this] { io_.run(); });
  producer_ = kafka::Producer::create(cluster(), {});
  kafka::ConsumerOptions reader;  // table reader
  reader.topics = {std::string(kafka::kResidency)};
  residency_reader_ = kafka::Consumer::start(cluster(), reader, [this](const kafka::Message& m) {
    if (m.tombstone) return kafka::Handled::done;
    auto r = schema::parse<schema::Residency>(m.value);
    if (!r) return kafka::Handled::done;  // Boost.Test is not thread-safe: callers check
    std::lock_guard lock(residency_mu_);
    residency_[m.key] = std::move(*r);
    return kafka::Handled::done;
  });
}

Fixture::~Fixture() {
  agent_.reset();
  residency_reader_.reset();
  // the agent's core posts its shutdown: let it run before the loop ends
  std::this_thread::sleep_for(50ms);
  work_.reset();
  io_.stop();
  io_thread_.join();
  for (auto& node : blob_servers_) node->server.reset();
  producer_.reset();
  engine_.reset();
}

AgentOptions Fixture::agent_options() const {
  AgentOptions o;
  o.engine_url = engine_->url();
  o.base_model = base_;
  o.engine_id = base_ + "@test";
  o.data_dir = dir_.path() + "/agent";
  o.max_loras = max_loras_;
  o.poll_interval = 200ms;
  o.session_timeout = 6s;
  o.register_health = false;
  return o;
}

Agent& Fixture::start_agent(AgentOptions options) {
  agent_ = std::make_unique<Agent>(io_, cluster(), std::move(options));
  agent_->start();
  BOOST_REQUIRE_MESSAGE(eventually([this] { return agent_->ready(); }, 60s), "agent ready");
  return *agent_;
}

void Fixture::stop_agent() {
  agent_->stop();
  std::this_thread::sleep_for(50ms);
  agent_.reset();
}

void Fixture::restart_engine() {
  auto options = engine_options_;
  options.port = engine_ ? engine_->port() : engine_port_;  // the agent knows it by its url
  engine_.reset();
  engine_ = std::make_unique<EngineHost>(options);
}

void Fixture::stop_engine() {
  engine_port_ = engine_->port();
  engine_.reset();
}

BlobServer& Fixture::add_blob_server(bool corrupt) {
  auto node = std::make_unique<BlobServer>();
  node->corrupt = corrupt;
  http::Router router;
  BlobServer* raw = node.get();
  router.add(http::Verb::get, "/internal/v1/blobs/{sha256}", [raw](http::RequestContext& rc) {
    return serve_blob(raw, std::string(rc.param("sha256")));
  });
  http::ServerOptions options;
  options.role = "test-blobs";
  node->server = std::make_unique<http::Server>(io_, options, std::move(router));
  node->server->start();
  blob_servers_.push_back(std::move(node));
  return *blob_servers_.back();
}

schema::LoadEvent Fixture::publish_ready(const std::string& adapter_id, int variant,
                                         std::optional<std::vector<std::string>> urls) {
  auto event = stage(adapter_id, variant);
  if (urls) event.storage_urls = *urls;
  std::promise<Status> done;
  producer_->produce(kafka::kLoadEvents, adapter_id, schema::to_json(event), {},
                     [&done](Status st) { done.set_value(st); });
  BOOST_REQUIRE(done.get_future().get().ok());
  return event;
}

void Fixture::publish_state(const schema::LoadEvent& event, schema::AdapterStatus status) {
  schema::AdapterState s;
  s.adapter.id = event.adapter_id;
  s.adapter.name = "n-" + event.adapter_id.substr(4);
  s.adapter.base_model = event.base_model;
  s.adapter.status = status;
  s.adapter.size_bytes = event.size_bytes;
  s.adapter.sha256 = event.sha256;
  s.adapter.rank = event.rank;
  s.adapter.target_modules = {"q_proj"};
  s.adapter.created_at = 1'717'000'000;
  s.tenant_id = event.tenant_id;
  s.updated_at = 1'717'000'010;
  s.adapter_config = event.adapter_config;
  s.seq = status == schema::AdapterStatus::ready ? 4 : 6;
  s.validated = true;
  s.storage_urls = event.storage_urls;
  std::promise<Status> done;
  producer_->produce(kafka::kAdapters, event.adapter_id, schema::to_json(s), {},
                     [&done](Status st) { done.set_value(st); });
  BOOST_REQUIRE(done.get_future().get().ok());
}

schema::LoadEvent Fixture::stage(const std::string& adapter_id, int variant) {
  const auto bytes = adapter_weights(variant);
  schema::LoadEvent event;
  event.event = schema::LoadEventKind::adapter_ready;
  event.adapter_id = adapter_id;
  event.tenant_id = "ten_test";
  event.base_model = base_;
  event.sha256 = sha256_hex(bytes);
  event.size_bytes = bytes.size();
  event.rank = 8;
  event.at = 1'717'000'000;
  event.adapter_config = adapter_config();
  for (auto& node : blob_servers_) {
    {
      std::lock_guard lock(node->mu);
      node->blobs[event.sha256] = bytes;
    }
    event.storage_urls.push_back(node->url() + "/internal/v1/blobs/" + event.sha256);
  }
  return event;
}

void Fixture::publish_deleted(const std::string& adapter_id) {
  schema::LoadEvent event;
  event.event = schema::LoadEventKind::adapter_deleted;
  event.adapter_id = adapter_id;
  event.tenant_id = "ten_test";
  event.base_model = base_;
  event.sha256 = std::string(64, 'a');
  event.at = 1'717'000'100;
  std::promise<Status> done;
  producer_->produce(kafka::kLoadEvents, adapter_id, schema::to_json(event), {},
                     [&done](Status st) { done.set_value(st); });
  BOOST_REQUIRE(done.get_future().get().ok());
}

HttpResult Fixture::ensure(const std::string& adapter_id) const {
  return loraplane::test::http_request(agent_->port(), "POST", "/internal/v1/ensure",
                                       json::serialize(json::object{{"adapter_id", adapter_id}}));
}

HttpResult Fixture::ensure(const std::string& adapter_id,
                           const std::vector<std::string>& evict_order) const {
  json::array order;
  for (const auto& id : evict_order) order.emplace_back(id);
  return loraplane::test::http_request(
      agent_->port(), "POST", "/internal/v1/ensure",
      json::serialize(json::object{{"adapter_id", adapter_id}, {"evict_order", order}}));
}

bool Fixture::engine_has(const std::string& adapter_id) const {
  return contains(engine_->adapters(), lora(adapter_id));
}

std::optional<schema::Residency> Fixture::published() const {
  std::lock_guard lock(residency_mu_);
  auto it = residency_.find(base_ + "@test");
  if (it == residency_.end()) return std::nullopt;
  return it->second;
}

std::string Fixture::adapter_dir(const std::string& adapter_id) const {
  return dir_.path() + "/agent/adapters/" + adapter_id;
}

}  // namespace loraplane::agent::test
