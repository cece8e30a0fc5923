// The agent's loading policy and its published view: concurrent ensures share one load, the
// coldest registered adapter makes room, a corrupt blob is never installed (the next storage
// url is tried), residency records carry the right lists.
#include <algorithm>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <future>
#include <memory>
#include <thread>

#include "test/unit/agent/agent_fixture.hpp"
#include "workers/agent/engine_client.hpp"

namespace loraplane::agent::test {

namespace {
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

// An agent of one slot whose engine takes `load` per adapter load, its ensures waiting up to
// `slot_wait` for a slot; started, with a blob server.
std::unique_ptr<Fixture> one_slow_slot(const std::string& base, sim_engine::Millis load,
                                       std::chrono::milliseconds slot_wait) {
  auto engine = Fixture::engine_options();
  engine.load_fixed = load;
  auto f = std::make_unique<Fixture>(base, /*max_loras=*/1, engine);
  f->add_blob_server();
  auto options = f->agent_options();
  options.slot_wait = slot_wait;
  f->start_agent(options);
  return f;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(policy)

BOOST_AUTO_TEST_CASE(concurrent_ensures_share_one_engine_load) {
  auto slow = Fixture::engine_options();
  slow.load_fixed = sim_engine::Millis(300);  // so the ensures overlap the load
  Fixture f("base-concurrent", /*max_loras=*/1, slow);
  f.add_blob_server();
  f.start_agent();
  f.publish_ready("adp_conc_a", 1);
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().gpu, "adp_conc_a"); }));
  f.publish_ready("adp_conc_b", 2);
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().disk, "adp_conc_b"); }));
  const double loads = f.engine().loads();
  std::vector<std::future<loraplane::test::HttpResult>> calls;
  for (int i = 0; i < 10; ++i)
    calls.push_back(std::async(std::launch::async, [&] { return f.ensure("adp_conc_b"); }));
  for (auto& call : calls) {
    auto res = call.get();
    BOOST_TEST(res.status == 200, res.body);
  }
  BOOST_TEST(f.engine().loads() == loads + 1);
  BOOST_TEST(f.engine_has("adp_conc_b"));
  BOOST_TEST(!f.engine_has("adp_conc_a"));  // max-loras 1: the other one made room
}

// One slot, three ensures for three different adapters at once: the later ones find the slot
// held by a load in progress. Each waits for that load to end and then takes the slot, rather
// than sending its caller away with a 503 (and waiters hold no slot themselves, or they would
// fill the slots and starve each other until the bound).
BOOST_AUTO_TEST_CASE(an_ensure_finding_every_slot_loading_waits_for_one) {
  // A wait of 5 s: more than the three loads, less than a deadlock.
  auto fixture = one_slow_slot("base-slotwait", sim_engine::Millis(300), 5000ms);
  auto& f = *fixture;
  f.publish_ready("adp_sw_a", 1);
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().gpu, "adp_sw_a"); }));
  const std::vector<std::string> ids{"adp_sw_b", "adp_sw_c", "adp_sw_d"};
  for (std::size_t i = 0; i < ids.size(); ++i) f.publish_ready(ids[i], static_cast<int>(i) + 2);
  BOOST_REQUIRE(eventually([&] {
    auto r = f.residency();
    return std::all_of(ids.begin(), ids.end(), [&](const auto& id) { return contains(r.disk, id); });
  }));
  std::vector<std::future<loraplane::test::HttpResult>> calls;
  for (const auto& id : ids) {
    calls.push_back(std::async(std::launch::async, [&f, id] { return f.ensure(id); }));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the first load holds the slot
  }
  for (auto& call : calls) {
    auto res = call.get();
    BOOST_TEST(res.status == 200, res.body);
  }
  int held = 0;
  for (const auto& id : ids) held += f.engine_has(id) ? 1 : 0;
  BOOST_TEST(held == 1);  // the last one to load holds the one slot
  BOOST_TEST(!f.engine_has("adp_sw_a"));
}

// The wait is bounded: a load that outlasts it gets a 503 saying why.
BOOST_AUTO_TEST_CASE(the_wait_for_a_loading_slot_is_bounded) {
  auto fixture = one_slow_slot("base-slotbound", sim_engine::Millis(5000), 200ms);
  auto& f = *fixture;
  f.publish_ready("adp_sb_a", 1);  // pre-warmed into the free slot: a 5 s load
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().loading, "adp_sb_a"); }));
  f.publish_ready("adp_sb_b", 2);  // after a's load began: on disk, no slot left
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().disk, "adp_sb_b"); }));
  BOOST_REQUIRE(!f.engine_has("adp_sb_a"));  // still loading
  auto rb = f.ensure("adp_sb_b");
  BOOST_TEST(rb.status == 503, rb.body);
  BOOST_TEST(rb.body.find("for 200 ms") != std::string::npos, rb.body);
}

// An adapter an ensure has just answered for is on its way to being used: the caller's request
// is about to reach the engine. Another ensure does not evict it during the hold; it waits,
// here past its bound, and succeeds once the hold is over.
BOOST_AUTO_TEST_CASE(an_adapter_just_handed_to_a_caller_is_not_evicted_at_once) {
  Fixture f("base-hold", /*max_loras=*/1);
  f.add_blob_server();
  auto options = f.agent_options();
  options.ensure_hold = std::chrono::milliseconds(3000);
  options.slot_wait = std::chrono::milliseconds(200);
  f.start_agent(options);
  f.publish_ready("adp_hold_a", 1);  // pre-warmed into the free slot
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().gpu, "adp_hold_a"); }));
  f.publish_ready("adp_hold_b", 2);  // then on disk only
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().disk, "adp_hold_b"); }));
  BOOST_TEST_REQUIRE(f.ensure("adp_hold_a").status == 200);
  auto refused = f.ensure("adp_hold_b");
  BOOST_TEST(refused.status == 503, refused.body);
  BOOST_TEST(f.engine_has("adp_hold_a"));  // its caller's request still finds it
  BOOST_TEST(eventually([&] { return f.ensure("adp_hold_b").status == 200; }));
  BOOST_TEST(f.engine_has("adp_hold_b"));
}

// One slot, three adapters on disk. a's request runs, holding the one place in the batch; b's
// waits behind it (one adapter per batch); then c's ensure takes the slot from b once b's hold
// is over, b's request still waiting at the engine.
namespace {

struct Queued {
  std::future<HttpResult> chat_a, chat_b;
};

Queued queue_behind(Fixture& f, const std::string& a, const std::string& b, const std::string& c) {
  f.publish_ready(a, 1);  // pre-warmed into the free slot
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().gpu, a); }));
  f.publish_ready(b, 2);
  f.publish_ready(c, 3);
  BOOST_REQUIRE(eventually([&] {
    auto r = f.residency();
    return contains(r.disk, b) && contains(r.disk, c);
  }));
  auto& e = f.engine();
  Queued q;
  BOOST_TEST_REQUIRE(f.ensure(a).status == 200);
  q.chat_a = std::async(std::launch::async, [&e, &f, a] { return e.chat(f.lora(a)); });
  BOOST_REQUIRE(eventually([&] { return e.running() == 1; }));
  // b takes the slot once a's hold is over (a's running request keeps its weights) ...
  BOOST_TEST_REQUIRE(f.ensure(b).status == 200);
  q.chat_b = std::async(std::launch::async, [&e, &f, b] { return e.chat(f.lora(b)); });
  BOOST_REQUIRE(eventually([&] { return e.waiting() == 1; }));
  auto ensured_c = f.ensure(c);
  BOOST_TEST_REQUIRE(ensured_c.status == 200, ensured_c.body);
  BOOST_TEST(!f.engine_has(b));
  return q;
}

}  // namespace

// More adapters asked for at once than the engine has slots, as `loraplane up` saw it: a request
// reaches the engine within its ensure's hold but waits there for a place in the batch (the
// running requests already use max_loras distinct adapters). The hold ends, the next ensure
// evicts its adapter. The request is still answered: vLLM checks `model` when the request
// arrives and the request carries its adapter from then on (unload only takes the name out of
// /v1/models), so the caller must not get the engine's 404 — which the gateway's one retry
// turned into a 503 under contention.
BOOST_AUTO_TEST_CASE(a_request_waiting_at_the_engine_is_answered_though_its_adapter_is_evicted) {
  auto engine = Fixture::engine_options();
  engine.ttft = sim_engine::Millis(2000);  // the first request holds the one batch slot
  Fixture f("base-queued", /*max_loras=*/1, engine);
  f.add_blob_server();
  auto options = f.agent_options();
  options.ensure_hold = std::chrono::milliseconds(50);
  f.start_agent(options);
  auto q = queue_behind(f, "adp_q_a", "adp_q_b", "adp_q_c");
  auto res_a = q.chat_a.get();
  auto res_b = q.chat_b.get();
  BOOST_TEST(res_a.status == 200, res_a.body);
  BOOST_TEST(res_b.status == 200, res_b.body);
  auto res_c = f.engine().chat(f.lora("adp_q_c"));
  BOOST_TEST(res_c.status == 200, res_c.body);
}

// The same queue, with the disk full: the adapter unloaded while its request waits keeps its
// files, since vLLM loads them again for that request (a real engine would fail it without
// them). A new adapter gets the room of the one in the engine without requests there.
BOOST_AUTO_TEST_CASE(the_files_of_an_adapter_with_requests_at_the_engine_stay_on_disk) {
  auto engine = Fixture::engine_options();
  engine.ttft = sim_engine::Millis(4000);  // the first request holds the one batch slot
  Fixture f("base-busy-disk", /*max_loras=*/1, engine);
  f.add_blob_server();
  auto options = f.agent_options();
  options.ensure_hold = std::chrono::milliseconds(50);
  options.disk_budget_bytes = adapter_weights(1).size() * 3 + 100;  // three adapters fit
  f.start_agent(options);
  auto q = queue_behind(f, "adp_bd_a", "adp_bd_b", "adp_bd_c");
  // d needs room. b is the least recently used unregistered adapter on disk, but a request
  // for it waits at the engine; c, in the engine with none, leaves it and makes the room.
  f.publish_ready("adp_bd_d", 4);
  auto ensured_d = f.ensure("adp_bd_d");
  BOOST_TEST(ensured_d.status == 200, ensured_d.body);
  BOOST_TEST(fs::exists(f.adapter_dir("adp_bd_b")));
  BOOST_TEST(!fs::exists(f.adapter_dir("adp_bd_c")));
  BOOST_TEST(f.engine_has("adp_bd_d"));
  BOOST_TEST(q.chat_a.get().status == 200);
  BOOST_TEST(q.chat_b.get().status == 200);
}

// A disk budget for one adapter, two callers at once: the second waits for the adapter the
// first one was just handed (its hold), then takes its room, rather than being refused for a
// budget that a moment later has room.
BOOST_AUTO_TEST_CASE(an_ensure_waits_for_disk_room_held_by_another_callers_adapter) {
  Fixture f("base-disk-wait", /*max_loras=*/1);
  f.add_blob_server();
  auto options = f.agent_options();
  options.ensure_hold = std::chrono::milliseconds(300);
  options.disk_budget_bytes = adapter_weights(1).size() + 100;  // one adapter fits
  f.start_agent(options);
  f.publish_ready("adp_dw_a", 1);  // pre-warmed into the engine: the disk is full
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().gpu, "adp_dw_a"); }));
  f.publish_ready("adp_dw_b", 2);  // its pre-warm finds no room (and makes none)
  auto first = std::async(std::launch::async, [&f] { return f.ensure("adp_dw_a"); });
  auto second = std::async(std::launch::async, [&f] { return f.ensure("adp_dw_b"); });
  auto a = first.get();
  auto b = second.get();
  BOOST_TEST(a.status == 200, a.body);
  BOOST_TEST(b.status == 200, b.body);
  // Only one of them fits: the later one is in the engine and on disk.
  BOOST_TEST(fs::exists(f.adapter_dir("adp_dw_a")) != fs::exists(f.adapter_dir("adp_dw_b")));
}

BOOST_AUTO_TEST_CASE(the_coldest_registered_adapter_is_evicted) {
  Fixture f("base-evict", /*max_loras=*/2);
  f.add_blob_server();
  f.start_agent();
  f.publish_ready("adp_ev_hot", 1);
  f.publish_ready("adp_ev_cold", 2);
  BOOST_REQUIRE(
      eventually([&] { return f.engine_has("adp_ev_hot") && f.engine_has("adp_ev_cold"); }));
  for (int i = 0; i < 5; ++i) BOOST_TEST(f.ensure("adp_ev_hot").status == 200);
  f.publish_ready("adp_ev_new", 3);
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().disk, "adp_ev_new"); }));
  BOOST_TEST(f.ensure("adp_ev_new").status == 200);
  BOOST_TEST(f.engine_has("adp_ev_new"));
  BOOST_TEST(f.engine_has("adp_ev_hot"));
  BOOST_TEST(!f.engine_has("adp_ev_cold"));
  auto r = f.residency();
  BOOST_TEST(contains(r.disk, "adp_ev_cold"));  // still fetched: a later ensure is warm
  BOOST_TEST(r.gpu.size() == 2u);
}

BOOST_AUTO_TEST_CASE(the_gateways_evict_order_comes_before_the_agents_own_heat) {
  Fixture f("base-evict-order", /*max_loras=*/2);
  f.add_blob_server();
  auto options = f.agent_options();
  // The ensures below only make heat; the hold they would give is tested on its own.
  options.ensure_hold = std::chrono::milliseconds(0);
  f.start_agent(options);
  f.publish_ready("adp_eo_hot", 1);
  f.publish_ready("adp_eo_cold", 2);
  BOOST_REQUIRE(
      eventually([&] { return f.engine_has("adp_eo_hot") && f.engine_has("adp_eo_cold"); }));
  // The agent's own heat says adp_eo_cold; the gateway, which saw every request, names
  // adp_eo_hot first (an unknown id and the adapter being loaded are skipped).
  for (int i = 0; i < 5; ++i) BOOST_TEST(f.ensure("adp_eo_hot").status == 200);
  f.publish_ready("adp_eo_new", 3);
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().disk, "adp_eo_new"); }));
  auto res = f.ensure("adp_eo_new", {"adp_eo_gone", "adp_eo_new", "adp_eo_hot", "adp_eo_cold"});
  BOOST_TEST(res.status == 200, res.body);
  BOOST_TEST(f.engine_has("adp_eo_new"));
  BOOST_TEST(f.engine_has("adp_eo_cold"));
  BOOST_TEST(!f.engine_has("adp_eo_hot"));

  // An order naming nothing the engine holds leaves the choice to the agent's heat.
  f.publish_ready("adp_eo_next", 4);
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().disk, "adp_eo_next"); }));
  for (int i = 0; i < 5; ++i) BOOST_TEST(f.ensure("adp_eo_new").status == 200);
  res = f.ensure("adp_eo_next", {"adp_eo_hot", "adp_eo_gone"});
  BOOST_TEST(res.status == 200, res.body);
  BOOST_TEST(f.engine_has("adp_eo_next"));
  BOOST_TEST(f.engine_has("adp_eo_new"));
  BOOST_TEST(!f.engine_has("adp_eo_cold"));
}

// The same order decides what leaves the engine to free disk room: with slots to spare but a
// disk budget of two adapters, the one the gateway names goes (files and all), not the one the
// agent's own heat would pick.
BOOST_AUTO_TEST_CASE(the_gateways_evict_order_also_decides_what_leaves_for_disk_room) {
  Fixture f("base-evict-disk", /*max_loras=*/3);
  f.add_blob_server();
  auto options = f.agent_options();
  options.ensure_hold = std::chrono::milliseconds(0);
  options.disk_budget_bytes = adapter_weights(1).size() * 2 + 100;  // two adapters fit
  f.start_agent(options);
  f.publish_ready("adp_ed_hot", 1);
  f.publish_ready("adp_ed_cold", 2);
  BOOST_REQUIRE(
      eventually([&] { return f.engine_has("adp_ed_hot") && f.engine_has("adp_ed_cold"); }));
  for (int i = 0; i < 5; ++i) BOOST_TEST(f.ensure("adp_ed_hot").status == 200);
  f.publish_ready("adp_ed_new", 3);  // its pre-warm finds no room (and makes none)
  auto res = f.ensure("adp_ed_new", {"adp_ed_gone", "adp_ed_hot", "adp_ed_cold"});
  BOOST_TEST(res.status == 200, res.body);
  BOOST_TEST(f.engine_has("adp_ed_new"));
  BOOST_TEST(f.engine_has("adp_ed_cold"));
  BOOST_TEST(!f.engine_has("adp_ed_hot"));
  BOOST_TEST(fs::exists(f.adapter_dir("adp_ed_cold")));
  BOOST_TEST(!fs::exists(f.adapter_dir("adp_ed_hot")));
}

BOOST_AUTO_TEST_CASE(corrupt_blob_is_refused_and_the_next_url_used) {
  Fixture f("base-corrupt");
  auto& bad = f.add_blob_server(/*corrupt=*/true);
  auto& good = f.add_blob_server();
  f.start_agent();
  f.publish_ready("adp_corrupt_a", 1);  // urls: bad first, then good
  BOOST_REQUIRE(eventually([&] { return f.engine_has("adp_corrupt_a"); }));
  BOOST_TEST(bad.requests.load() == 1);
  BOOST_TEST(good.requests.load() == 1);

  // only a corrupt copy: not installed, not loaded, 503 to the caller
  auto event = f.publish_ready("adp_corrupt_b", 2, std::vector<std::string>{bad.url()});
  BOOST_REQUIRE(eventually([&] { return bad.requests.load() >= 2; }));
  auto res = f.ensure("adp_corrupt_b");
  BOOST_TEST(res.status == 503);
  BOOST_TEST(res.headers.count("retry-after") == 1u);
  BOOST_TEST(!f.engine_has("adp_corrupt_b"));
  BOOST_TEST(!fs::exists(f.adapter_dir("adp_corrupt_b")));
  BOOST_TEST(fs::is_empty(f.data_dir() + "/agent/tmp"));
}

BOOST_AUTO_TEST_CASE(residency_records_list_adapters_by_where_they_are) {
  Fixture f("base-residency", /*max_loras=*/1);
  f.add_blob_server();
  auto& agent = f.start_agent();
  f.publish_ready("adp_res_a", 1);
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().gpu, "adp_res_a"); }));
  f.publish_ready("adp_res_b", 2);
  BOOST_REQUIRE(eventually([&] {
    auto p = f.published();
    return p && p->gpu == std::vector<std::string>{"adp_res_a"} &&
           p->disk == std::vector<std::string>{"adp_res_b"};
  }));
  auto p = *f.published();
  BOOST_TEST(p.engine_id == "base-residency@test");
  BOOST_TEST(p.base_model == "base-residency");
  BOOST_TEST(p.url == f.engine().url());
  BOOST_TEST(p.agent_url == agent.url());
  BOOST_TEST(p.cpu.empty());
  BOOST_TEST(p.loading.empty());
  BOOST_TEST(p.free_slots == 0);
  BOOST_TEST(p.heartbeat_at_ms > 0);
  // heartbeats keep coming without changes
  const auto first = p.heartbeat_at_ms;
  BOOST_TEST(eventually([&] { return f.published()->heartbeat_at_ms > first; }));
}

BOOST_AUTO_TEST_CASE(disk_budget_removes_the_least_recently_used_unregistered_adapter) {
  Fixture f("base-budget", /*max_loras=*/1);
  f.add_blob_server();
  auto options = f.agent_options();
  options.disk_budget_bytes = adapter_weights(1).size() * 2 + 100;  // two adapters fit
  f.start_agent(options);
  f.publish_ready("adp_bud_a", 1);  // registered
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().gpu, "adp_bud_a"); }));
  f.publish_ready("adp_bud_b", 2);  // on disk
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().disk, "adp_bud_b"); }));
  f.publish_ready("adp_bud_c", 3);  // b (unregistered) makes room, a stays
  BOOST_REQUIRE(eventually([&] { return contains(f.residency().disk, "adp_bud_c"); }));
  BOOST_TEST(!fs::exists(f.adapter_dir("adp_bud_b")));
  BOOST_TEST(fs::exists(f.adapter_dir("adp_bud_a")));
  BOOST_TEST(f.engine_has("adp_bud_a"));
  // b is still known: an ensure fetches it again
  BOOST_TEST(f.ensure("adp_bud_b").status == 200);
  BOOST_TEST(f.engine_has("adp_bud_b"));
}

BOOST_AUTO_TEST_CASE(engine_answers_are_read_as_vllm_writes_them) {
  auto models = parse_models(R"({"object":"list","data":[{"id":"b","root":"/m/b","parent":null},)"
                             R"({"id":"b:adp_1","root":"/d/adp_1","parent":"b"}]})");
  BOOST_REQUIRE(models.ok());
  BOOST_TEST(models->size() == 1u);
  BOOST_TEST((*models)[0].name == "b:adp_1");
  BOOST_TEST((*models)[0].path == "/d/adp_1");
  BOOST_TEST(!parse_models("[]").ok());
  BOOST_TEST(error_message(R"({"error":{"message":"nested","type":"x","code":400}})") == "nested");
  BOOST_TEST(error_message(R"({"object":"error","message":"flat","code":404})") == "flat");
  auto load = parse_engine_metrics(
      "# HELP x\nvllm:num_requests_waiting{engine=\"0\"} 3.0\n"
      "vllm:lora_requests_info{max_lora=\"8\",running_lora_adapters=\"b:adp_old\","
      "waiting_lora_adapters=\"\"} 1.0e+09\n"
      "vllm:lora_requests_info{max_lora=\"8\",running_lora_adapters=\"b:adp_1,b:adp_2\","
      "waiting_lora_adapters=\"b:adp_3\"} 2.0e+09\n");
  BOOST_TEST(load.waiting == 3);
  BOOST_TEST(load.active == (std::vector<std::string>{"b:adp_1", "b:adp_2", "b:adp_3"}));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::agent::test
