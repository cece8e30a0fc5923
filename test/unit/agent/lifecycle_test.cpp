// The agent's adapter lifecycle against a real engine simulator, blob servers and the mock
// cluster: pre-warm on adapter.ready, removal on adapter.deleted, restart of the agent (view
// rebuilt from disk and engine) and of the engine (adapters vanish, the next ensure reloads).
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <thread>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/sha256.hpp"
#include "test/unit/agent/agent_fixture.hpp"

namespace loraplane::agent::test {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lifecycle)

BOOST_AUTO_TEST_CASE(ready_adapter_is_fetched_verified_and_registered) {
  Fixture f("base-prewarm");
  f.add_blob_server();
  f.start_agent();
  auto event = f.publish_ready("adp_prewarm1", 1);
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().gpu, "adp_prewarm1"); }));
  const auto dir = f.adapter_dir("adp_prewarm1");
  BOOST_TEST(sha256_hex(read(dir + "/adapter_model.safetensors")) == event.sha256);
  BOOST_TEST(read(dir + "/adapter_config.json") == *event.adapter_config);
  BOOST_TEST(f.engine().adapter_root(f.lora("adp_prewarm1")).value_or("") == dir);
  BOOST_TEST(fs::is_empty(f.data_dir() + "/agent/tmp"));
  // an ensure of a loaded adapter answers at once, without another engine load
  const double loads = f.engine().loads();
  auto res = f.ensure("adp_prewarm1");
  BOOST_TEST(res.status == 200);
  auto body = json::parse(res.body).as_object();
  BOOST_TEST(body.at("lora_name").as_string() == "base-prewarm:adp_prewarm1");
  BOOST_TEST(body.at("state").as_string() == "loaded");
  BOOST_TEST(f.engine().loads() == loads);
}

BOOST_AUTO_TEST_CASE(deleted_adapter_is_unloaded_and_its_files_removed) {
  Fixture f("base-delete");
  f.add_blob_server();
  f.start_agent();
  f.publish_ready("adp_delete1", 1);
  BOOST_REQUIRE(eventually([&] { return f.engine_has("adp_delete1"); }));
  f.publish_deleted("adp_delete1");
  BOOST_REQUIRE(eventually([&] { return !f.engine_has("adp_delete1"); }));
  BOOST_TEST(eventually([&] { return !fs::exists(f.adapter_dir("adp_delete1")); }));
  BOOST_TEST(!fs::exists(f.data_dir() + "/agent/catalog/adp_delete1.json"));
  auto res = f.ensure("adp_delete1");
  BOOST_TEST(res.status == 404);
  BOOST_TEST(json::parse(res.body).at("error").at("code").as_string() == "adapter_not_found");
  BOOST_TEST(eventually([&] {
    auto r = f.residency();
    return !contains(r.gpu, "adp_delete1") && !contains(r.disk, "adp_delete1");
  }));
}

BOOST_AUTO_TEST_CASE(unknown_adapter_and_bad_bodies) {
  Fixture f("base-unknown");
  f.start_agent();
  auto res = f.ensure("adp_never_seen");
  BOOST_TEST(res.status == 404);
  BOOST_TEST(json::parse(res.body).at("error").at("code").as_string() == "adapter_not_found");
  std::string too_many = "{\"adapter_id\":\"adp_x\",\"evict_order\":[";
  for (int i = 0; i < 17; ++i) too_many += (i ? ",\"adp_" : "\"adp_") + std::to_string(i) + "\"";
  too_many += "]}";
  for (std::string body :
       {std::string(), std::string("[]"), std::string("{\"adapter_id\":7}"),
        std::string("{\"adapter_id\":\"no spaces\"}"),
        std::string("{\"adapter_id\":\"adp_x\",\"evict_order\":\"adp_y\"}"),
        std::string("{\"adapter_id\":\"adp_x\",\"evict_order\":[\"no spaces\"]}"),
        std::string("{\"adapter_id\":\"adp_x\",\"evict_order\":[7]}"), too_many}) {
    auto bad = loraplane::test::http_request(f.agent().port(), "POST", "/internal/v1/ensure", body);
    BOOST_TEST(bad.status == 400, body);
  }
  auto big = loraplane::test::http_request(f.agent().port(), "POST", "/internal/v1/ensure",
                                           std::string(4096, ' '));
  BOOST_TEST(big.status == 413);
}

BOOST_AUTO_TEST_CASE(restarted_agent_rebuilds_its_view_from_engine_and_disk) {
  Fixture f("base-restart", /*max_loras=*/1);
  f.add_blob_server();
  f.start_agent();
  f.publish_ready("adp_restart_a", 1);
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().gpu, "adp_restart_a"); }));
  f.publish_ready("adp_restart_b", 2);  // no free slot: stays on disk
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().disk, "adp_restart_b"); }));
  const double loads = f.engine().loads();
  f.stop_agent();

  f.start_agent();  // same dir, same engine, same consumer group: no event is replayed
  auto r = f.residency();
  BOOST_TEST(r.gpu == std::vector<std::string>{"adp_restart_a"});
  BOOST_TEST(r.disk == std::vector<std::string>{"adp_restart_b"});
  BOOST_TEST(r.free_slots == 0);
  BOOST_TEST(f.ensure("adp_restart_a").status == 200);
  BOOST_TEST(f.engine().loads() == loads);
  // what it knew of b (its storage urls) survived too: ensure evicts a and loads b
  BOOST_TEST(f.ensure("adp_restart_b").status == 200);
  BOOST_TEST(f.engine_has("adp_restart_b"));
  BOOST_TEST(!f.engine_has("adp_restart_a"));
}

BOOST_AUTO_TEST_CASE(engine_restart_drops_adapters_and_the_next_ensure_reloads) {
  Fixture f("base-engine-restart");
  f.add_blob_server();
  f.start_agent();
  f.publish_ready("adp_er_a", 1);
  BOOST_REQUIRE(eventually([&] { return f.engine_has("adp_er_a"); }));
  f.restart_engine();
  BOOST_REQUIRE(f.engine().adapters().empty());
  auto res = f.ensure("adp_er_a");
  BOOST_TEST(res.status == 200, res.body);
  BOOST_TEST(f.engine_has("adp_er_a"));
  BOOST_TEST(f.engine().loads() == 1);
  BOOST_TEST(contains(f.residency().gpu, "adp_er_a"));
}

BOOST_AUTO_TEST_CASE(engine_restart_is_noticed_without_an_ensure) {
  Fixture f("base-engine-poll");
  f.add_blob_server();
  f.start_agent();
  f.publish_ready("adp_ep_a", 1);
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().gpu, "adp_ep_a"); }));
  f.restart_engine();
  BOOST_TEST(eventually([&] { return contains(f.residency().disk, "adp_ep_a"); }));
  BOOST_TEST(f.residency().gpu.empty());
}

// While its engine does not answer, the agent publishes no heartbeat (gateways then skip the
// engine as stale rather than send it requests and ensures first); the first answer after
// that publishes again.
BOOST_AUTO_TEST_CASE(a_dead_engine_gets_no_heartbeat_until_it_answers_again) {
  Fixture f("base-engine-down");
  f.add_blob_server();
  f.start_agent();
  f.publish_ready("adp_ed_a", 1);
  BOOST_REQUIRE(eventually([&] {
    auto p = f.published();
    return p && contains(p->gpu, "adp_ed_a");
  }));
  const auto poll = f.agent_options().poll_interval;
  f.stop_engine();
  BOOST_REQUIRE(eventually([&] { return f.residency().free_slots == 0; }));  // noticed
  const auto last = f.published()->heartbeat_at_ms;
  std::this_thread::sleep_for(3 * poll);
  BOOST_TEST(f.published()->heartbeat_at_ms == last);
  f.restart_engine();
  BOOST_TEST(eventually([&] { return f.published()->heartbeat_at_ms > last; }));
  // The restarted engine is empty: the record says so.
  BOOST_TEST(eventually([&] { return f.published()->gpu.empty(); }));
}

BOOST_AUTO_TEST_CASE(adapters_ready_before_the_agent_existed_come_from_the_adapters_table) {
  Fixture f("base-table");
  f.add_blob_server();
  // ready (and, for one, deleted) before the agent's first start: no load event for them
  auto old = f.stage("adp_table_old", 1);
  f.publish_state(old, schema::AdapterStatus::ready);
  auto gone = f.stage("adp_table_gone", 2);
  f.publish_state(gone, schema::AdapterStatus::ready);
  f.publish_state(gone, schema::AdapterStatus::deleting);
  f.start_agent();
  // known, not pre-fetched: fetched and loaded on the first ensure
  BOOST_TEST(!fs::exists(f.adapter_dir("adp_table_old")));
  auto res = f.ensure("adp_table_old");
  BOOST_TEST(res.status == 200, res.body);
  BOOST_TEST(f.engine_has("adp_table_old"));
  BOOST_TEST(f.ensure("adp_table_gone").status == 404);
  // a deleting record reaching a running agent removes the adapter too
  f.publish_state(old, schema::AdapterStatus::deleting);
  BOOST_TEST(eventually([&] { return !f.engine_has("adp_table_old"); }));
  BOOST_TEST(eventually([&] { return !fs::exists(f.adapter_dir("adp_table_old")); }));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::agent::test
