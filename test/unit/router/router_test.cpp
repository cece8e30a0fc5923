// The router's rules one by one, on hand-made residency records and an explicit clock.
#define BOOST_TEST_MODULE router
#include "gateway/router/router.hpp"

#include <boost/test/unit_test.hpp>
#include <map>
#include <set>

namespace r = loraplane::gateway::router;
using loraplane::schema::Residency;

namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;  // unix ms
const std::string kBase = "toy-llama";

Residency engine(const std::string& id, int free_slots = 4, int queue = 0) {
  Residency res;
  res.engine_id = id;
  res.base_model = kBase;
  res.url = "http://127.0.0.1:1/" + id;
  res.agent_url = "http://127.0.0.1:2/" + id;
  res.free_slots = free_slots;
  res.queue_depth = queue;
  res.heartbeat_at_ms = kNow;
  return res;
}

struct Fixture {
  r::Router router;
  void add(const Residency& res, std::int64_t received = kNow) { router.update(res, received); }
  r::Decision route(const std::string& adapter, std::int64_t now = kNow,
                    const std::string& exclude = {}) {
    return router.route(kBase, adapter, now, exclude);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(placement_order, Fixture)

BOOST_AUTO_TEST_CASE(gpu_beats_cpu_beats_loading_beats_disk_beats_free_slot_beats_eviction) {
  auto gpu = engine("e-gpu", 0);
  gpu.gpu = {"adp_a"};
  auto cpu = engine("e-cpu", 0);
  cpu.cpu = {"adp_a"};
  auto loading = engine("e-loading", 0);
  loading.loading = {"adp_a"};
  auto disk = engine("e-disk", 0);
  disk.disk = {"adp_a"};
  auto free = engine("e-free", 3);
  auto full = engine("e-full", 0);
  full.gpu = {"adp_x"};
  std::vector<std::pair<Residency, std::string>> order = {{gpu, "e-gpu"},         {cpu, "e-cpu"},
                                                          {loading, "e-loading"}, {disk, "e-disk"},
                                                          {free, "e-free"},       {full, "e-full"}};
  for (const auto& [res, unused] : order) add(res);
  // Remove the best engine one at a time: the next one in the order takes over.
  for (const auto& [res, id] : order) {
    auto d = route("adp_a");
    BOOST_TEST(d.engine_id == id);
    router.remove(id);
  }
  BOOST_TEST((route("adp_a").outcome == r::Outcome::no_engine));
}

BOOST_AUTO_TEST_CASE(outcome_and_ensure_follow_the_placement) {
  auto e = engine("e1");
  e.gpu = {"adp_gpu"};
  e.cpu = {"adp_cpu"};
  e.loading = {"adp_loading"};
  e.disk = {"adp_disk"};
  add(e);
  BOOST_TEST((route("adp_gpu").outcome == r::Outcome::hit));
  BOOST_TEST(!route("adp_gpu").needs_ensure);
  BOOST_TEST((route("adp_cpu").outcome == r::Outcome::hit));
  BOOST_TEST(!route("adp_cpu").needs_ensure);
  for (const char* a : {"adp_loading", "adp_disk", "adp_cold"}) {
    auto d = route(a);
    BOOST_TEST((d.outcome == r::Outcome::miss));
    BOOST_TEST(d.needs_ensure);
    BOOST_TEST(d.url == e.url);
    BOOST_TEST(d.agent_url == e.agent_url);
  }
}

BOOST_AUTO_TEST_CASE(eviction_is_cheaper_where_fewer_requests_queue_per_adapter) {
  auto busy = engine("e-busy", 0, 6);
  busy.gpu = {"adp_x", "adp_y"};
  auto calm = engine("e-calm", 0, 1);
  calm.gpu = {"adp_z", "adp_w"};
  add(busy);
  add(calm);
  BOOST_TEST(route("adp_new").engine_id == "e-calm");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(queue_penalty, Fixture)

BOOST_AUTO_TEST_CASE(a_much_longer_queue_outweighs_gpu_over_cpu) {
  auto gpu = engine("e-gpu", 0, 30);
  gpu.gpu = {"adp_a"};
  auto cpu = engine("e-cpu", 0, 0);
  cpu.cpu = {"adp_a"};
  add(gpu);
  add(cpu);
  BOOST_TEST(route("adp_a").engine_id == "e-cpu");
  // A short queue does not.
  gpu.queue_depth = 2;
  add(gpu);
  BOOST_TEST(route("adp_a").engine_id == "e-gpu");
}

BOOST_AUTO_TEST_CASE(requests_in_flight_count_before_the_agent_reports_them) {
  add(engine("e1"));
  add(engine("e2"));
  auto first = route("");
  router.begin_request(first.engine_id);
  auto second = route("");
  BOOST_TEST(second.engine_id != first.engine_id);
  router.end_request(first.engine_id);
  BOOST_TEST(route("").engine_id == first.engine_id);
}

BOOST_AUTO_TEST_CASE(a_queue_that_drained_since_the_last_record_does_not_repel) {
  auto busy = engine("e-drained", 0, 0);
  busy.gpu = {"adp_a"};
  auto other = engine("e-other", 0, 3);
  other.gpu = {"adp_a"};
  add(busy);
  add(other);
  for (int i = 0; i < 10; ++i) router.begin_request("e-drained");
  busy.queue_depth = 10;  // the agent reports the ten requests this gateway sent
  add(busy);
  BOOST_TEST(route("adp_a").engine_id == "e-other");
  for (int i = 0; i < 10; ++i) router.end_request("e-drained");  // and all ten finish
  BOOST_TEST(route("adp_a").engine_id == "e-drained");
}

BOOST_AUTO_TEST_CASE(requests_sent_since_the_last_record_count_on_top_of_it) {
  add(engine("e1", 4, 3));
  add(engine("e2", 4, 4));
  BOOST_TEST(route("").engine_id == "e1");
  router.begin_request("e1");
  router.begin_request("e1");  // e1 now has 5 by this gateway's count, e2 still 4
  BOOST_TEST(route("").engine_id == "e2");
}

BOOST_AUTO_TEST_CASE(a_miss_avoids_an_engine_whose_agent_is_already_loading) {
  auto loading = engine("e-loading", 4, 0);
  loading.loading = {"adp_x", "adp_y"};
  add(loading);
  add(engine("e-idle", 4, 0));
  // Whatever the rendezvous order of the adapter, the idle loader takes the cold adapter.
  for (int i = 0; i < 16; ++i) {
    auto d = r::Router(router).route(kBase, "adp_cold_" + std::to_string(i), kNow);
    BOOST_TEST(d.engine_id == "e-idle");
    BOOST_TEST((d.outcome == r::Outcome::miss));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(tie_break, Fixture)

BOOST_AUTO_TEST_CASE(equal_engines_pick_the_rendezvous_winner_stably) {
  for (int i = 0; i < 8; ++i) add(engine("e" + std::to_string(i)));
  std::set<std::string> chosen;
  for (int i = 0; i < 64; ++i) {
    std::string adapter = "adp_" + std::to_string(i);
    r::Router fresh;  // another gateway with the same view answers the same
    for (int j = 0; j < 8; ++j) fresh.update(engine("e" + std::to_string(7 - j)), kNow);
    auto d = router.route(kBase, adapter, kNow);
    BOOST_TEST(fresh.route(kBase, adapter, kNow).engine_id == d.engine_id);
    std::string best;
    std::uint64_t best_hash = 0;
    for (int j = 0; j < 8; ++j) {
      auto id = "e" + std::to_string(j);
      if (r::rendezvous_hash(adapter, id) >= best_hash) {
        best_hash = r::rendezvous_hash(adapter, id);
        best = id;
      }
    }
    BOOST_TEST(d.engine_id == best);
    chosen.insert(d.engine_id);
  }
  BOOST_TEST(chosen.size() > 4u);  // different adapters spread over the pool
}

BOOST_AUTO_TEST_CASE(removing_an_engine_moves_only_its_adapters) {
  for (int i = 0; i < 6; ++i) add(engine("e" + std::to_string(i)));
  std::map<std::string, std::string> before;
  for (int i = 0; i < 60; ++i) {
    auto a = "adp_" + std::to_string(i);
    before[a] = r::Router(router).route(kBase, a, kNow).engine_id;  // copy: no pending marks
  }
  router.remove("e3");
  for (const auto& [a, id] : before)
    if (id != "e3") BOOST_TEST(r::Router(router).route(kBase, a, kNow).engine_id == id);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(affinity, Fixture)

BOOST_AUTO_TEST_CASE(concurrent_misses_converge_on_one_engine) {
  for (int i = 0; i < 8; ++i) add(engine("e" + std::to_string(i)));
  auto first = route("adp_cold");
  BOOST_TEST((first.outcome == r::Outcome::miss));
  // Other engines get busier meanwhile; the pending load keeps the adapter where it goes.
  for (int i = 0; i < 5; ++i) {
    auto d = route("adp_cold");
    BOOST_TEST(d.engine_id == first.engine_id);
    BOOST_TEST(d.needs_ensure);  // ensure is idempotent and shares the one load
  }
}

BOOST_AUTO_TEST_CASE(pending_mark_expires_and_clears_when_loaded) {
  add(engine("e1"));
  add(engine("e2"));
  auto first = route("adp_a");
  auto later = kNow + router.options().pending_ttl_ms + 1;
  auto e1 = engine("e1");
  e1.heartbeat_at_ms = later;
  auto e2 = engine("e2");
  e2.heartbeat_at_ms = later;
  // The chosen engine gets busy; once the mark has expired it no longer attracts the adapter.
  (first.engine_id == "e1" ? e1 : e2).queue_depth = 3;
  add(e1, later);
  add(e2, later);
  BOOST_TEST(route("adp_a", later).engine_id != first.engine_id);
}

BOOST_AUTO_TEST_CASE(a_load_names_the_engines_adapters_this_router_used_least_first) {
  auto e = engine("e1", 0);
  e.gpu = {"adp_once", "adp_idle", "adp_busy"};  // as the agent lists them: most recent first
  e.cpu = {"adp_cached"};
  add(e);
  for (int i = 0; i < 5; ++i) BOOST_TEST(route("adp_busy").evict_order.empty());  // hits
  route("adp_once");
  auto d = route("adp_new");
  BOOST_TEST(d.needs_ensure);
  // Never asked for first (least recently used first: CPU, then the GPU list's tail), then by
  // how many requests this router sent there.
  const std::vector<std::string> want = {"adp_cached", "adp_idle", "adp_once", "adp_busy"};
  BOOST_TEST(d.evict_order == want, boost::test_tools::per_element());

  // Counts fade (half-life evict_half_life_ms): five requests a minute ago weigh less than one
  // now.
  const auto later = kNow + 60'000;
  e.heartbeat_at_ms = later;
  add(e, later);
  route("adp_once", later);
  d = route("adp_new", later);
  const std::vector<std::string> faded = {"adp_cached", "adp_idle", "adp_busy", "adp_once"};
  BOOST_TEST(d.evict_order == faded, boost::test_tools::per_element());

  // An adapter the engine stopped holding loses its count.
  for (int i = 0; i < 3; ++i) route("adp_busy", later);
  e.gpu = {"adp_once", "adp_idle"};
  add(e, later);
  e.gpu = {"adp_once", "adp_idle", "adp_busy"};
  add(e, later);
  d = route("adp_new", later);
  const std::vector<std::string> reset = {"adp_cached", "adp_busy", "adp_idle", "adp_once"};
  BOOST_TEST(d.evict_order == reset, boost::test_tools::per_element());

  // At most evict_order_max adapters are named.
  for (int i = 0; i < 20; ++i) e.cpu.push_back("adp_c" + std::to_string(i));
  add(e, later);
  d = route("adp_new", later);
  BOOST_TEST(d.evict_order.size() == router.options().evict_order_max);
  BOOST_TEST(d.evict_order.front() == "adp_c19");
}

// An engine answered 404 for an adapter its last record listed: until its next record the
// router does not count on it there. Another holder serves; with none, the adapter is loaded
// with an evict order like any miss.
BOOST_AUTO_TEST_CASE(an_adapter_the_engine_no_longer_has_is_not_counted_on_there) {
  auto first = engine("e1", 0);
  first.gpu = {"adp_gone", "adp_other"};
  add(first);
  auto second = engine("e2", 2);
  second.cpu = {"adp_gone", "adp_cached"};
  add(second);
  BOOST_TEST(route("adp_gone").engine_id == "e1");  // GPU beats CPU

  router.evicted("e1", "adp_gone");
  auto d = route("adp_gone");
  BOOST_TEST(d.engine_id == "e2");
  BOOST_TEST(!d.needs_ensure);

  router.evicted("e2", "adp_gone");
  d = route("adp_gone");
  BOOST_TEST(d.engine_id == "e2");  // a free slot beats an eviction
  BOOST_TEST(d.needs_ensure);
  BOOST_TEST(d.evict_order == std::vector<std::string>{"adp_cached"},
             boost::test_tools::per_element());

  add(first);  // the engine's next record is believed again
  BOOST_TEST(route("adp_gone").engine_id == "e1");
  BOOST_TEST(!route("adp_gone").needs_ensure);
}

BOOST_AUTO_TEST_CASE(hot_adapter_spreads_when_its_engines_queue_up) {
  auto holder = engine("e-hot", 0, 12);
  holder.gpu = {"adp_hot"};
  add(holder);
  add(engine("e-idle-1", 4, 0));
  add(engine("e-idle-2", 4, 1));
  auto d = route("adp_hot");
  BOOST_TEST((d.outcome == r::Outcome::spill));
  BOOST_TEST(d.needs_ensure);
  BOOST_TEST(d.engine_id == "e-idle-1");
  // Below the spill depth the holder keeps it.
  holder.queue_depth = 5;
  add(holder);
  BOOST_TEST(route("adp_hot").engine_id == "e-hot");
}

BOOST_AUTO_TEST_CASE(a_holder_under_the_spill_depth_beats_a_better_placed_one_past_it) {
  auto deep = engine("e-gpu-deep", 0, 9);
  deep.gpu = {"adp_a"};
  auto loading = engine("e-loading", 4, 0);
  loading.loading = {"adp_a"};
  add(deep);
  add(loading);
  auto d = route("adp_a");
  BOOST_TEST(d.engine_id == "e-loading");  // no new load: it is already on its way there
  // Under the spill depth the GPU copy wins again.
  deep.queue_depth = 3;
  add(deep);
  BOOST_TEST(route("adp_a").engine_id == "e-gpu-deep");
}

BOOST_AUTO_TEST_CASE(no_spill_when_others_are_as_busy) {
  auto holder = engine("e-hot", 0, 12);
  holder.gpu = {"adp_hot"};
  add(holder);
  add(engine("e-busy", 4, 10));
  auto d = route("adp_hot");
  BOOST_TEST(d.engine_id == "e-hot");
  BOOST_TEST((d.outcome == r::Outcome::hit));
}

// Two busy holders of adp_hot and an idle engine, with at most 2 replicas for a small share.
struct ReplicaFixture : Fixture {
  ReplicaFixture() {
    r::RouterOptions options;
    options.max_replicas = 2;
    router = r::Router(options);
    auto a = engine("e-a", 0, 20);
    a.gpu = {"adp_hot"};
    auto b = engine("e-b", 0, 20);
    b.gpu = {"adp_hot"};
    add(a);
    add(b);
    add(engine("e-idle", 4, 0));
  }
};

BOOST_FIXTURE_TEST_CASE(an_adapter_with_a_small_share_stays_within_max_replicas, ReplicaFixture) {
  for (int i = 0; i < 60; ++i) route("adp_other_" + std::to_string(i));
  auto d = route("adp_hot");  // 1 request in 61: ceil(2 × 1/61 × 3 engines) = 1 ≤ 2
  BOOST_TEST(d.engine_id != "e-idle");
  BOOST_TEST((d.outcome == r::Outcome::hit));
}

BOOST_FIXTURE_TEST_CASE(a_hot_adapter_spreads_past_max_replicas_by_its_share, ReplicaFixture) {
  auto d = route("adp_hot");  // all the pool's requests: up to ceil(2 × 1 × 3) = 6 engines
  BOOST_TEST(d.engine_id == "e-idle");
  BOOST_TEST((d.outcome == r::Outcome::spill));
  BOOST_TEST(d.needs_ensure);
}

BOOST_FIXTURE_TEST_CASE(an_adapter_turning_hot_spreads_within_a_second, ReplicaFixture) {
  // A minute of traffic for other adapters: adp_hot's long-run share is small...
  for (int i = 0; i < 600; ++i)
    route("adp_other_" + std::to_string(i % 50), kNow - 60'000 + 100 * i);
  // ...until it takes every request for a moment: its recent share lifts the replica bound.
  bool spread = false;
  for (int i = 0; i < 10; ++i) {
    auto d = route("adp_hot", kNow + 10 * i);
    spread = spread || (d.engine_id == "e-idle" && d.outcome == r::Outcome::spill);
  }
  BOOST_TEST(spread);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(health_and_pools, Fixture)

BOOST_AUTO_TEST_CASE(stale_heartbeats_are_skipped) {
  auto old = engine("e-old");
  old.gpu = {"adp_a"};
  add(old);
  add(engine("e-fresh"));
  BOOST_TEST(route("adp_a").engine_id == "e-old");
  auto later = kNow + router.options().stale_after_ms + 1;
  auto fresh = engine("e-fresh");
  fresh.heartbeat_at_ms = later;
  add(fresh, later);
  BOOST_TEST(route("adp_a", later).engine_id == "e-fresh");
  auto view = router.snapshot(later);
  BOOST_TEST_REQUIRE(view.size() == 2u);
  BOOST_TEST(view[0].residency.engine_id == "e-fresh");
  BOOST_TEST(view[0].healthy);
  BOOST_TEST(!view[1].healthy);
  BOOST_TEST(view[1].heartbeat_age_ms == router.options().stale_after_ms + 1);
  // And with no fresh engine the pool is empty.
  router.remove("e-fresh");
  BOOST_TEST((route("adp_a", later).outcome == r::Outcome::no_engine));
}

BOOST_AUTO_TEST_CASE(the_fleet_view_lists_adapters_where_route_places_them) {
  auto e = engine("e1", 1, 2);
  e.gpu = {"adp_hot", "adp_gone", "adp_back"};
  e.cpu = {"adp_cool", "adp_hot"};  // listed twice: shown once, where route() places it
  e.disk = {"adp_disk"};
  e.loading = {"adp_coming"};
  add(e);
  router.evicted("e1", "adp_gone");  // the engine answered 404 for it
  router.evicted("e1", "adp_back");  // ... and for this one, which is then loaded again
  auto d = route("adp_disk");        // a load the record does not show yet
  BOOST_TEST_REQUIRE(d.needs_ensure);
  BOOST_TEST(route("adp_new").needs_ensure);
  BOOST_TEST(route("adp_back").needs_ensure);
  BOOST_TEST(route("adp_coming").needs_ensure);  // already loading: marked, not listed twice
  router.begin_request("e1");
  router.begin_request("e1");

  auto view = router.snapshot(kNow);
  BOOST_TEST_REQUIRE(view.size() == 1u);
  auto seen = view[0].residency;
  using V = std::vector<std::string>;
  BOOST_TEST(seen.gpu == V{"adp_hot"}, boost::test_tools::per_element());
  BOOST_TEST(seen.cpu == V{"adp_cool"}, boost::test_tools::per_element());
  BOOST_TEST(seen.disk.empty());
  BOOST_TEST(seen.loading == (V{"adp_coming", "adp_back", "adp_disk", "adp_new"}),
             boost::test_tools::per_element());
  BOOST_TEST(seen.queue_depth == 4);  // the record's 2 and the 2 sent since
  BOOST_TEST(seen.free_slots == 1);

  // The engine's next record is believed again, as route() believes it.
  add(e);
  seen = router.snapshot(kNow)[0].residency;
  BOOST_TEST(seen.gpu == (V{"adp_hot", "adp_gone", "adp_back"}),
             boost::test_tools::per_element());
  BOOST_TEST(seen.disk.empty());  // the load this router started is still on its way
  BOOST_TEST(seen.loading == (V{"adp_coming", "adp_disk", "adp_new"}),
             boost::test_tools::per_element());
  const auto expired = kNow + router.options().pending_ttl_ms + 1;
  seen = router.snapshot(expired)[0].residency;
  BOOST_TEST(seen.disk == V{"adp_disk"}, boost::test_tools::per_element());
  BOOST_TEST(seen.loading == V{"adp_coming"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_old_record_read_at_start_is_stale_and_a_clock_ahead_does_not_help) {
  auto old = engine("e-old");
  old.heartbeat_at_ms = kNow - 60'000;
  add(old, kNow);  // read from the compacted topic just now
  BOOST_TEST((route("adp_a").outcome == r::Outcome::no_engine));
  auto ahead = engine("e-ahead");
  ahead.heartbeat_at_ms = kNow + 3'600'000;
  add(ahead, kNow);
  auto later = kNow + router.options().stale_after_ms + 1;
  BOOST_TEST((route("adp_a", later).outcome == r::Outcome::no_engine));
}

BOOST_AUTO_TEST_CASE(exclusion_skips_the_failed_engine) {
  auto a = engine("e-a");
  a.gpu = {"adp_a"};
  add(a);
  add(engine("e-b"));
  BOOST_TEST(route("adp_a").engine_id == "e-a");
  auto retry = route("adp_a", kNow, "e-a");
  BOOST_TEST(retry.engine_id == "e-b");
  BOOST_TEST(retry.needs_ensure);
  router.remove("e-b");
  BOOST_TEST((route("adp_a", kNow, "e-a").outcome == r::Outcome::no_engine));
}

BOOST_AUTO_TEST_CASE(pools_are_per_base_model) {
  auto other = engine("e-other");
  other.base_model = "other-base";
  other.gpu = {"adp_a"};
  add(other);
  BOOST_TEST((route("adp_a").outcome == r::Outcome::no_engine));
  add(engine("e-mine"));
  BOOST_TEST(route("adp_a").engine_id == "e-mine");
  BOOST_TEST(router.route("other-base", "", kNow).engine_id == "e-other");
}

BOOST_AUTO_TEST_CASE(bare_base_requests_go_to_the_least_loaded_engine) {
  add(engine("e1", 4, 5));
  add(engine("e2", 4, 2));
  add(engine("e3", 4, 9));
  auto d = route("");
  BOOST_TEST(d.engine_id == "e2");
  BOOST_TEST((d.outcome == r::Outcome::hit));
  BOOST_TEST(!d.needs_ensure);
}

BOOST_AUTO_TEST_SUITE_END()
