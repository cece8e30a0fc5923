// The agent as an operator runs it: `loraplane worker --role agent` beside a `loraplane
// sim-engine` process, on the real broker named by LORAPLANE_KAFKA (start one with
// `eval "$(ops/kafka/start)"`). A ready event makes it fetch and register the adapter, ensure
// answers, residency reaches loraplane.residency, a delete unloads it, SIGTERM exits cleanly.
// Base model and ids are unique per run, so other runs' events on the shared topics are ignored.
#define BOOST_TEST_MODULE agent_integration
#include <signal.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <map>
#include <mutex>

#include "test/support/broker.hpp"
#include "common/http.hpp"
#include "common/kafka.hpp"
#include "common/sha256.hpp"
#include "schema/json.hpp"
#include "test/support/http_client.hpp"
#include "test/support/process.hpp"
#include "test/unit/agent/agent_fixture.hpp"

namespace lt = loraplane::test;
namespace json = boost::json;
using namespace loraplane;
using namespace std::chrono_literals;

namespace {

using loraplane::test::broker;
using loraplane::test::BrokerGiven;

std::uint16_t last_port(const std::string& line) {
  auto pos = line.rfind("http://127.0.0.1:");
  return pos == std::string::npos ? 0
                                  : static_cast<std::uint16_t>(std::atoi(line.c_str() + pos + 17));
}

awaitable<http::Response> serve(std::map<std::string, std::string>* blobs, std::string sha) {
  auto it = blobs->find(sha);
  if (it == blobs->end())
    co_return http::error_response(http::Status::not_found, "invalid_request_error", "not_found",
                                   "no such blob");
  co_return http::text_response(http::Status::ok, it->second, "application/octet-stream");
}

// A storage node stand-in: serves the blobs it was given before start.
struct BlobNode {
  std::map<std::string, std::string> blobs;
  asio::io_context io;
  std::unique_ptr<http::Server> server;
  std::thread thread;
  void start() {
    http::Router router;
    auto* b = &blobs;
    router.add(http::Verb::get, "/internal/v1/blobs/{sha256}",
               [b](http::RequestContext& rc) { return serve(b, std::string(rc.param("sha256"))); });
    server = std::make_unique<http::Server>(io, http::ServerOptions{}, std::move(router));
    server->start();
    thread = std::thread([this] { io.run(); });
  }
  ~BlobNode() {
    if (server) server->stop();
    io.stop();
    if (thread.joinable()) thread.join();
  }
};

void produce(kafka::Producer& producer, const schema::LoadEvent& event) {
  std::promise<Status> done;
  producer.produce(kafka::kLoadEvents, event.adapter_id, schema::to_json(event), {},
                   [&done](Status st) { done.set_value(st); });
  BOOST_REQUIRE(done.get_future().get().ok());
}

bool engine_lists(std::uint16_t port, const std::string& name) {
  auto res = lt::http_request(port, "GET", "/v1/models");
  const auto doc = json::parse(res.body);
  for (const auto& m : doc.at("data").as_array())
    if (m.at("id").as_string() == name) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(real_broker, *boost::unit_test::precondition(BrokerGiven()))

BOOST_AUTO_TEST_CASE(agent_process_prewarms_ensures_publishes_and_unloads) {
  const std::string run = random_base62(8);
  const std::string base = "it-agent-" + run;
  const std::string adapter_id = "adp_it" + run;
  lt::TempDir dir;

  lt::Process engine({lt::loraplane_binary(), "sim-engine", "--profile", "instant", "--base", base,
                      "--port", "0"});
  auto engine_line = engine.wait_for_line("listening on http://", 30s);
  BOOST_REQUIRE_MESSAGE(engine_line, engine.output());
  const auto engine_port = last_port(*engine_line);

  BlobNode node;
  const auto weights = agent::test::adapter_weights(1);
  schema::LoadEvent ready;
  ready.adapter_id = adapter_id;
  ready.tenant_id = "ten_it";
  ready.base_model = base;
  ready.sha256 = sha256_hex(weights);
  ready.size_bytes = weights.size();
  ready.rank = 8;
  ready.at = 1'717'000'000;
  ready.adapter_config = agent::test::adapter_config();
  node.blobs[ready.sha256] = weights;
  node.start();
  ready.storage_urls = {"http://127.0.0.1:" + std::to_string(node.server->port()) +
                        "/internal/v1/blobs/" + ready.sha256};

  lt::Process agent({lt::loraplane_binary(), "worker", "--role", "agent", "--engine",
                     "http://127.0.0.1:" + std::to_string(engine_port), "--base", base, "--kafka",
                     broker(), "--data-dir", dir.path() + "/agent", "--port", "0", "--engine-id",
                     base + "-0", "--max-loras", "4"});
  auto listening = agent.wait_for_line("listening on http://", 30s);
  BOOST_REQUIRE_MESSAGE(listening, agent.output());
  const auto agent_port = last_port(*listening);
  BOOST_REQUIRE_MESSAGE(agent.wait_for_line(": ready (engine", 90s), agent.output());

  auto cluster = kafka::Cluster::external(broker());
  std::mutex mu;
  std::optional<schema::Residency> published;
  kafka::ConsumerOptions reader;
  reader.topics = {std::string(kafka::kResidency)};
  auto residency = kafka::Consumer::start(*cluster, reader, [&](const kafka::Message& m) {
    if (m.key != base + "-0" || m.tombstone) return kafka::Handled::done;
    if (auto r = schema::parse<schema::Residency>(m.value)) {
      std::lock_guard lock(mu);
      published = std::move(*r);
    }
    return kafka::Handled::done;
  });
  auto producer = kafka::Producer::create(*cluster, {});

  produce(*producer, ready);
  BOOST_REQUIRE_MESSAGE(
      agent::test::eventually([&] { return engine_lists(engine_port, base + ":" + adapter_id); },
                              60s),
      agent.output());
  auto res = lt::http_request(agent_port, "POST", "/internal/v1/ensure",
                              R"({"adapter_id":")" + adapter_id + R"("})");
  BOOST_TEST(res.status == 200, res.body);
  BOOST_TEST(agent::test::eventually(
      [&] {
        std::lock_guard lock(mu);
        return published && agent::test::contains(published->gpu, adapter_id) &&
               published->agent_url == "http://127.0.0.1:" + std::to_string(agent_port) &&
               published->url == "http://127.0.0.1:" + std::to_string(engine_port);
      },
      30s));

  schema::LoadEvent deleted = ready;
  deleted.event = schema::LoadEventKind::adapter_deleted;
  deleted.adapter_config.reset();
  produce(*producer, deleted);
  BOOST_TEST(agent::test::eventually(
      [&] { return !engine_lists(engine_port, base + ":" + adapter_id); }, 60s));
  // The files go right after the unload (and after the write-out of the weights, if that was
  // still running).
  BOOST_TEST(agent::test::eventually(
      [&] { return !std::filesystem::exists(dir.path() + "/agent/adapters/" + adapter_id); },
      10s));
  BOOST_TEST(lt::http_request(agent_port, "POST", "/internal/v1/ensure",
                              R"({"adapter_id":")" + adapter_id + R"("})")
                 .status == 404);

  residency.reset();
  producer.reset();
  BOOST_TEST(agent.stop(SIGTERM) == 0);
  BOOST_TEST(engine.stop(SIGTERM) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
