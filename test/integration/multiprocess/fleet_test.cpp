// A production-shaped deployment on the real broker (docs/deployment.md): 2 gateways, 2 validate
// workers, 2 storage nodes and 4 simulated engines with their agents, each its own process. An
// upload through one gateway and a Hub import through the other become ready; both storage nodes
// hold the bytes; the load event reaches every agent, every engine loads the adapter, and both
// gateways see it in every engine's residency and route to it.
#define BOOST_TEST_MODULE fleet_multiprocess_test
#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "common/sha256.hpp"
#include "test/support/broker.hpp"
#include "test/support/cluster.hpp"
#include "test/support/fake_hub.hpp"

namespace lt = loraplane::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr int kEngines = 4;

// Whether `name` is in the array of strings `a`.
bool holds(const json::value& a, const std::string& name) {
  for (const auto& v : a.as_array())
    if (v.as_string() == name) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fleet, *boost::unit_test::precondition(lt::BrokerGiven()))

BOOST_AUTO_TEST_CASE(load_event_reaches_every_agent_and_residency_every_gateway) {
  lt::FakeHub hub;
  const std::string imported_weights = lt::toy_adapter_file(8, 4242);
  lt::FakeHub::Repo repo;
  repo.commit = "89abcdef0123456789abcdef0123456789abcdef";
  repo.files = {{"adapter_config.json", lt::kToyConfig},
                {"adapter_model.safetensors", imported_weights}};
  hub.add("acme/fleet-sql", repo);

  lt::ClusterOptions options;
  options.kafka = lt::broker();
  options.env = {"HF_ENDPOINT=" + hub.endpoint()};
  lt::Cluster c(options);
  auto& g0 = c.add_gateway();
  auto& g1 = c.add_gateway();
  c.add_validate();
  c.add_validate();
  c.add_storage();
  c.add_storage();
  std::vector<lt::Role*> engines, agents;
  for (int i = 0; i < kEngines; ++i) {
    engines.push_back(&c.add_engine("toy-llama", 4));
    agents.push_back(&c.add_agent(*engines.back(), "toy-llama", 4));
  }
  c.start_all();
  BOOST_TEST_MESSAGE("fleet of " << kEngines << " engines up under prefix " << c.prefix());

  auto tenant = lt::create_tenant(g0.port(), c.admin_token(), "fleet", "reserved");
  // The tenant reaches the other gateway through loraplane.tenants.
  BOOST_REQUIRE_MESSAGE(lt::eventually([&] {
                          auto r = lt::call(g1.port(), "GET", "/v1/models", {}, lt::bearer(tenant.key));
                          return r.status == 200 ? "" : "gateway-1 answers " + std::to_string(r.status);
                        }, 30s).empty(), "the tenant never reached gateway-1");

  const std::string uploaded_weights = lt::toy_adapter_file(8, 7);
  auto up = lt::upload(g1.port(), tenant.key,
                       {{"name", "fleet-up"}, {"base_model", "toy-llama"}, {"config", lt::kToyConfig}},
                       uploaded_weights);
  BOOST_TEST_REQUIRE(up.status == 202, up.body + up.error);
  auto im = lt::import_repo(g0.port(), tenant.key, "fleet-hub", "toy-llama", "acme/fleet-sql");
  BOOST_TEST_REQUIRE(im.status == 202, im.body + im.error);

  struct Expected {
    std::string id, name, sha256;
  };
  const std::vector<Expected> adapters = {
      {std::string(lt::json_object(up.body)["id"].as_string()), "fleet-up",
       loraplane::sha256_hex(uploaded_weights)},
      {std::string(lt::json_object(im.body)["id"].as_string()), "fleet-hub",
       loraplane::sha256_hex(imported_weights)}};

  for (const auto& a : adapters) {
    BOOST_TEST_CONTEXT(a.name << " " << a.id) {
      // Ready, with the right bytes, as both gateways tell it.
      for (auto* g : {&g0, &g1}) {
        auto s = lt::settle(g->port(), tenant.key, a.id);
        BOOST_TEST_REQUIRE(s["status"].as_string() == "ready", json::serialize(s) << c.logs());
        BOOST_TEST(s["sha256"].as_string() == a.sha256);
      }
      // Both storage nodes hold a replica.
      for (auto* node : c.roles(lt::RoleKind::storage)) {
        auto missing = lt::eventually([&]() -> std::string {
          auto sha = lt::stored_sha256(node->port(), a.sha256);
          if (!sha) return node->name() + " has no blob";
          return *sha == a.sha256 ? "" : node->name() + " serves bytes hashing to " + *sha;
        });
        BOOST_TEST(missing.empty(), missing);
      }
    }
  }

  // The load event reached every agent: each pre-warms the adapter into its engine (no request
  // has asked for it yet, and an agent that learns an adapter from the adapters table alone
  // only loads it on demand). Both gateways see that in every engine's residency.
  std::set<std::string> engine_ids;
  for (auto* e : engines) engine_ids.insert("toy-llama@127.0.0.1:" + std::to_string(e->port()));
  auto missing = lt::eventually([&]() -> std::string {
    for (auto* e : engines) {
      auto loras = lt::engine_loras(e->port());
      for (const auto& a : adapters)
        if (std::find(loras.begin(), loras.end(), "toy-llama:" + a.id) == loras.end())
          return e->name() + " has not loaded " + a.id;
    }
    for (auto* g : {&g0, &g1}) {
      std::set<std::string> seen;
      for (const auto& v : lt::engines(g->port(), c.admin_token())) {
        const auto& e = v.as_object();
        const std::string id(e.at("id").as_string());
        if (!engine_ids.contains(id)) continue;
        if (!e.at("healthy").as_bool()) return g->name() + ": " + id + " not healthy";
        for (const auto& a : adapters)
          if (!holds(e.at("gpu"), "toy-llama:" + a.id))
            return g->name() + ": " + id + " residency lacks " + a.id + ": " + json::serialize(e);
        seen.insert(id);
      }
      if (seen != engine_ids)
        return g->name() + " knows " + std::to_string(seen.size()) + " of the engines";
    }
    return {};
  });
  BOOST_TEST_REQUIRE(missing.empty(), missing << "\n" << c.logs());

  // Both gateways route the tenant's model names to the fleet.
  for (auto* g : {&g0, &g1})
    for (const auto& a : adapters) {
      const std::string model = "toy-llama:" + a.name;
      auto r = lt::call(g->port(), "POST", "/v1/chat/completions",
                        json::serialize(json::object{
                            {"model", model},
                            {"max_tokens", 4},
                            {"messages", json::array{json::object{{"role", "user"}, {"content", "hi"}}}}}),
                        lt::bearer(tenant.key));
      BOOST_TEST_CONTEXT(g->name() << " " << model) {
        BOOST_TEST_REQUIRE(r.status == 200, r.body + r.error);
        BOOST_TEST(lt::json_object(r.body)["model"].as_string() == model);
      }
    }
}

// Every role serves /healthz and /metrics on its listener (docs/deployment.md), the validate
// worker too, though it has no API: Prometheus scrapes it (ops/prometheus/prometheus.yml).
BOOST_AUTO_TEST_CASE(a_validate_worker_serves_healthz_and_metrics) {
  lt::ClusterOptions options;
  options.kafka = lt::broker();
  lt::Cluster c(options);
  auto& validate = c.add_validate();
  c.start_all();
  BOOST_TEST_REQUIRE(validate.port() != 0);
  BOOST_TEST(validate.logs().find("/healthz and /metrics on http://127.0.0.1:" +
                                  std::to_string(validate.port())) != std::string::npos,
             validate.logs());
  const auto healthy = lt::eventually([&] {
    auto r = lt::call(validate.port(), "GET", "/healthz");
    return r.status == 200 ? "" : "/healthz answers " + std::to_string(r.status) + " " + r.body;
  }, 30s);
  BOOST_TEST(healthy.empty(), healthy);
  auto metrics = lt::call(validate.port(), "GET", "/metrics");
  BOOST_TEST(metrics.status == 200);
  BOOST_TEST(metrics.body.find("loraplane_validate_") != std::string::npos, metrics.body);
}

// Uploads of one name through two gateways at once both get their 202 (each gateway knows only
// its own requests), and the validate worker fails the later one (adapter_exists), which stays
// listed, newer than the ready winner. A re-run of `loraplane import` skips the ready one rather
// than replace the failed loser and be refused 409.
BOOST_AUTO_TEST_CASE(an_import_rerun_skips_a_ready_adapter_listed_with_a_failed_duplicate) {
  lt::ClusterOptions options;
  options.kafka = lt::broker();
  lt::Cluster c(options);
  auto& g0 = c.add_gateway();
  auto& g1 = c.add_gateway();
  c.add_validate();
  c.add_storage();
  c.start_all();
  auto tenant = lt::create_tenant(g0.port(), c.admin_token(), "racer", "shared");
  BOOST_REQUIRE(lt::eventually([&] {
                  auto r = lt::call(g1.port(), "GET", "/v1/adapters", {}, lt::bearer(tenant.key));
                  return r.status == 200 ? "" : "gateway-1 answers " + std::to_string(r.status);
                }, 30s).empty());
  // 512 KiB: more than a gateway reads at once (256 KiB), so the loser's name is checked when
  // its file part begins, while its last quarter is held back.
  const std::string base = "llama-3.1-8b-instruct";
  const std::string file = lt::toy_adapter_file(32, 99, 4096);
  const std::string boundary = "----race-boundary";
  const std::string body =
      lt::multipart_body(boundary, {{"name", "dup"}, {"base_model", base}}, file);
  const std::string request = "POST /v1/adapters/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Authorization: Bearer " + tenant.key + "\r\nContent-Type: " +
                              lt::multipart_content_type(boundary) + "\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  const std::size_t held_back = file.size() / 4;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), g0.port()});
  boost::asio::write(socket, boost::asio::buffer(request.data(), request.size() - held_back));
  std::this_thread::sleep_for(500ms);  // let gateway-0 read and check the fields
  auto winner = lt::upload(g1.port(), tenant.key, {{"name", "dup"}, {"base_model", base}}, file);
  BOOST_TEST_REQUIRE(winner.status == 202, winner.body + winner.error);
  const std::string winner_id(lt::json_object(winner.body)["id"].as_string());
  BOOST_TEST_REQUIRE(lt::settle(g1.port(), tenant.key, winner_id)["status"].as_string() == "ready",
                     c.logs());
  boost::asio::write(socket, boost::asio::buffer(request.data() + request.size() - held_back,
                                                 held_back));
  std::string answer;
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(answer), ec);  // to EOF
  BOOST_TEST_REQUIRE(answer.starts_with("HTTP/1.1 202"), answer);
  const std::string loser_id(
      lt::json_object(answer.substr(answer.find("\r\n\r\n") + 4))["id"].as_string());
  auto lost = lt::settle(g0.port(), tenant.key, loser_id);
  BOOST_TEST_REQUIRE(lost["status"].as_string() == "failed", json::serialize(lost));
  BOOST_TEST_REQUIRE(lost["error"].as_object()["code"].as_string() == "adapter_exists");

  lt::TempDir files;
  std::ofstream(files.path() + "/dup.safetensors", std::ios::binary) << file;
  std::ofstream(files.path() + "/m.csv") << "name,base_model,file\ndup," + base +
                                                ",dup.safetensors\n";
  lt::Process cli({lt::loraplane_binary(), "import", "--manifest", files.path() + "/m.csv",
                   "--api", g0.url(), "--key", tenant.key, "--json"});
  const int code = cli.stop(0, 120s);  // signal 0 only waits for the exit
  const std::string out = cli.output();
  BOOST_TEST(code == 0, out);
  const auto start = out.rfind("{\"adapters\"");
  BOOST_TEST_REQUIRE(start != std::string::npos, out);
  auto item = lt::json_object(out.substr(start, out.find('\n', start) - start))["adapters"]
                  .as_array()
                  .at(0)
                  .as_object();
  BOOST_TEST(item["status"].as_string() == "skipped", out);
  BOOST_TEST(item["id"].as_string() == winner_id, out);
}

BOOST_AUTO_TEST_SUITE_END()
