#include "test/unit/inference/stack.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>

#include "common/model_catalog.hpp"
#include "common/unix_time.hpp"
#include "gateway/adapter_directory.hpp"
#include "schema/json.hpp"

namespace loraplane::inference_test {

namespace json = boost::json;
using sim_engine::test::eventually;

namespace {

awaitable<http::Response> ensure_route(Stack* stack, http::RequestContext& rc) {
  co_return stack->handle_ensure(rc.request.body());
}

}  // namespace

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

json::object parse_object(const std::string& body) {
  auto v = json::parse(body);
  BOOST_REQUIRE(v.is_object());
  return v.as_object();
}

std::string chat_body(const std::string& model, bool stream) {
  json::object body{{"model", model},
                    {"messages", json::array{json::object{{"role", "user"}, {"content", "hi"}}}},
                    {"max_tokens", 4}};
  if (stream) body["stream"] = true;
  return json::serialize(body);
}

std::string completion_body(const std::string& model, bool stream) {
  json::object body{{"model", model}, {"prompt", "Once upon a time"}, {"max_tokens", 4}};
  if (stream) body["stream"] = true;
  return json::serialize(body);
}

Stack::Stack(sim_engine::SimEngineOptions engine_options,
             std::function<void(gateway::GatewayOptions&)> configure) {
  cluster_ = kafka::Cluster::embedded();
  BOOST_REQUIRE(cluster_->ensure_topics(kafka::default_topics(), std::chrono::seconds(30)));
  producer_ = kafka::Producer::create(*cluster_, kafka::ProducerOptions{});
  engine_ = std::make_unique<sim_engine::test::EngineFixture>(std::move(engine_options));

  const char* source = std::getenv("LORAPLANE_SOURCE_DIR");
  BOOST_REQUIRE_MESSAGE(source != nullptr, "LORAPLANE_SOURCE_DIR is set by ctest");
  auto catalog = ModelCatalog::load(std::string(source) + "/ops/models.json");
  BOOST_REQUIRE(catalog);
  gateway::GatewayOptions options;
  options.port = 0;
  options.admin_token = kAdminToken;
  options.catalog = std::move(catalog.value());
  options.router.stale_after_ms = 10 * 60 * 1000;  // records of a test stay fresh
  if (configure) configure(options);
  gateway_ = std::make_unique<gateway::Gateway>(io_, *cluster_, options);
  gateway_->start();
  port_ = gateway_->port();

  http::Router agent_routes;
  agent_routes.add(http::Verb::post, "/internal/v1/ensure",
                   [this](http::RequestContext& rc) { return ensure_route(this, rc); });
  http::ServerOptions agent_options;
  agent_options.role = "fake-agent";
  agent_ = std::make_unique<http::Server>(agent_io_, agent_options, std::move(agent_routes));
  agent_->start();
  agent_port_ = agent_->port();

  thread_ = std::thread([this] { io_.run(); });
  agent_thread_ = std::thread([this] { agent_io_.run(); });
  // The gateway answers 503 until it has read its tables back; tests begin once it is ready.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (loraplane::test::http_request(port_, "GET", "/healthz").status != 200) {
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                          "the gateway did not become ready in 30 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Stack::~Stack() {
  asio::post(io_, [this] { gateway_->stop(); });
  agent_->stop();
  // Let the requests still in flight end (their clients are gone) before the io_context is
  // stopped: a forward suspended past ~Gateway would release its router count into freed memory.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (gateway_->open_connections() > 0 && std::chrono::steady_clock::now() < deadline);
  io_.stop();
  agent_io_.stop();
  thread_.join();
  agent_thread_.join();
  gateway_.reset();
  agent_.reset();
  producer_->flush(std::chrono::seconds(5));
  producer_.reset();
}

std::string Stack::agent_url() const { return "http://127.0.0.1:" + std::to_string(agent_port_); }

std::string Stack::engine_url() const {
  return "http://127.0.0.1:" + std::to_string(engine_->port());
}

void Stack::produce(std::string_view topic, const std::string& key, const std::string& value) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  Status status;
  producer_->produce(topic, key, value, {}, [&](Status s) {
    std::lock_guard lock(m);
    status = std::move(s);
    done = true;
    cv.notify_all();
  });
  std::unique_lock lock(m);
  cv.wait_for(lock, std::chrono::seconds(30), [&] { return done; });
  BOOST_REQUIRE_MESSAGE(done && status, "produce to " << topic << " failed");
}

TenantKey Stack::create_tenant(const std::string& name) {
  auto r = loraplane::test::http_request(
      port_, "POST", "/admin/v1/tenants",
      json::serialize(json::object{{"name", name}, {"tier", "shared"}}), bearer(kAdminToken));
  BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
  auto o = parse_object(r.body);
  return {std::string(o["id"].as_string()), std::string(o["api_key"].as_string())};
}

std::string Stack::add_adapter(const TenantKey& tenant, const std::string& name,
                               schema::AdapterStatus status) {
  schema::AdapterState state;
  state.adapter.id = gateway::new_adapter_id(unix_now_ms());
  state.adapter.name = name;
  state.adapter.base_model = kBase;
  state.adapter.status = status;
  state.adapter.created_at = unix_now_seconds();
  state.adapter.rank = 8;
  state.tenant_id = tenant.id;
  state.updated_at = unix_now_seconds();
  state.seq = 1;
  produce(kafka::kAdapters, state.adapter.id, schema::to_json(state));
  const std::string id = state.adapter.id;
  const std::string want(schema::to_string(status));
  BOOST_REQUIRE(eventually([&] {
    auto r = get(tenant.key, "/v1/adapters/" + id);
    return r.status == 200 && parse_object(r.body)["status"].as_string() == want;
  }));
  engine_->make_adapter(id);  // the files the fake agent will register
  return id;
}

void Stack::publish_residency(const std::vector<std::string>& gpu, int free_slots,
                              const std::string& engine_id, std::string url) {
  schema::Residency r;
  r.engine_id = engine_id;
  r.base_model = kBase;
  r.url = url.empty() ? engine_url() : std::move(url);
  r.agent_url = agent_url();
  r.gpu = gpu;
  r.free_slots = free_slots;
  r.heartbeat_at_ms = unix_now_ms();
  produce(kafka::kResidency, engine_id, schema::to_json(r));
  std::vector<std::string> names;
  for (const auto& id : gpu) names.push_back(kBase + ":" + id);
  BOOST_REQUIRE(eventually([&] {
    auto view = get(kAdminToken, "/admin/v1/engines");
    if (view.status != 200) return false;
    auto list = parse_object(view.body);
    for (auto& e : list["data"].as_array()) {
      auto& o = e.as_object();
      if (o["id"].as_string() != engine_id) continue;
      std::vector<std::string> seen;
      for (auto& n : o["gpu"].as_array()) seen.emplace_back(n.as_string());
      return seen == names && o["free_slots"].as_int64() == free_slots &&
             o["url"].as_string() == r.url;
    }
    return false;
  }));
}

void Stack::load_in_engine(const std::string& adapter_id) {
  auto r = engine_->post_json(
      "/v1/load_lora_adapter",
      {{"lora_name", kBase + ":" + adapter_id}, {"lora_path", engine_->dir() + "/" + adapter_id}});
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
}

HttpResult Stack::post(const TenantKey& tenant, const std::string& target,
                       const std::string& body) {
  return loraplane::test::http_request(port_, "POST", target, body, bearer(tenant.key));
}

HttpResult Stack::get(const std::string& token, const std::string& target) {
  return loraplane::test::http_request(port_, "GET", target, {}, bearer(token));
}

std::vector<std::string> Stack::ensured() const {
  std::lock_guard lock(mutex_);
  return ensured_;
}

std::vector<std::vector<std::string>> Stack::evict_orders() const {
  std::lock_guard lock(mutex_);
  return evict_orders_;
}

void Stack::agent_does_not_know(const std::string& adapter_id) {
  std::lock_guard lock(mutex_);
  unknown_.insert(adapter_id);
}

void Stack::agent_answers_without_loading(const std::string& adapter_id) {
  std::lock_guard lock(mutex_);
  not_loaded_.insert(adapter_id);
}

void Stack::agent_fails(const std::string& adapter_id) {
  std::lock_guard lock(mutex_);
  failing_.insert(adapter_id);
}

void Stack::on_ensure(std::function<void()> action) {
  std::lock_guard lock(mutex_);
  on_ensure_ = std::move(action);
}

http::Response Stack::handle_ensure(const std::string& body) {
  // No Boost.Test assertions here: this runs on the fake agent's thread.
  boost::system::error_code ec;
  auto parsed = json::parse(body, ec);
  if (ec || !parsed.is_object() || !parsed.as_object().contains("adapter_id"))
    return http::error_response(http::Status::bad_request, "invalid_request_error", {},
                                "adapter_id required");
  std::string id(parsed.as_object()["adapter_id"].as_string());
  std::vector<std::string> order;
  if (const auto* o = parsed.as_object().if_contains("evict_order"); o && o->is_array())
    for (const auto& v : o->as_array())
      if (v.is_string()) order.emplace_back(v.as_string());
  std::function<void()> action;
  {
    std::lock_guard lock(mutex_);
    action = on_ensure_;
  }
  if (action) action();
  {
    std::lock_guard lock(mutex_);
    ensured_.push_back(id);
    evict_orders_.push_back(std::move(order));
    if (unknown_.contains(id))
      return http::error_response(http::Status::not_found, "invalid_request_error",
                                  "adapter_not_found", "no such adapter");
    if (failing_.contains(id))
      return http::error_response(http::Status::service_unavailable, "server_error",
                                  "load_failed", "the engine did not load it");
    if (not_loaded_.contains(id))
      return http::json_response(http::Status::ok,
                                 json::serialize(json::object{{"adapter_id", id}}));
  }
  auto load = loraplane::test::http_request(
      engine_->port(), "POST", "/v1/load_lora_adapter",
      json::serialize(
          json::object{{"lora_name", kBase + ":" + id}, {"lora_path", engine_->dir() + "/" + id}}));
  if (load.status != 200 && load.body.find("already been loaded") == std::string::npos)
    return http::error_response(http::Status::service_unavailable, "server_error", "load_failed",
                                load.body);
  return http::json_response(
      http::Status::ok,
      json::serialize(
          json::object{{"adapter_id", id}, {"lora_name", kBase + ":" + id}, {"state", "loaded"}}));
}

}  // namespace loraplane::inference_test
