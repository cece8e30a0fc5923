// GPU and host-memory residency: the LRU of max_loras / max_cpu_loras seen through /metrics and
// /sim/v1/state, and the cache and scheduler rules on their own.
#include <boost/test/unit_test.hpp>

#include "test/unit/sim_engine/engine_fixture.hpp"
#include "workers/sim_engine/lora_cache.hpp"

namespace loraplane::sim_engine::test {

namespace json = boost::json;

namespace {

std::map<std::string, std::string> tiers(const EngineFixture& e) {
  std::map<std::string, std::string> out;
  auto state = json::parse(e.get("/sim/v1/state").body);
  for (const auto& a : state.at("adapters").as_array())
    out[std::string(a.at("name").as_string())] = std::string(a.at("tier").as_string());
  return out;
}

std::string where(const LoraCache& cache, std::uint64_t id) {
  auto tier = cache.tier(id);
  if (!tier) return "unknown";
  switch (*tier) {
    case LoraCache::Tier::gpu:
      return "gpu";
    case LoraCache::Tier::cpu:
      return "cpu";
    case LoraCache::Tier::disk:
      return "disk";
  }
  return "?";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lru)

BOOST_AUTO_TEST_CASE(three_adapters_in_two_slots_evict_and_reload) {
  auto options = test_options();
  options.max_loras = 2;
  options.max_cpu_loras = 2;
  EngineFixture e(options);
  e.load("a");
  e.load("b");
  e.load("c");  // host memory holds two: "a" (least recently used) goes back to disk
  auto t = tiers(e);
  BOOST_TEST(t["a"] == "disk");
  BOOST_TEST(t["b"] == "gpu");
  BOOST_TEST(t["c"] == "gpu");
  auto metrics = e.get("/metrics").body;
  BOOST_TEST(metric_value(metrics, "loraplane_sim_cpu_evictions_total") == 1);
  BOOST_TEST(metric_value(metrics, "loraplane_sim_gpu_evictions_total") == 1);

  for (const char* name : {"a", "b", "c"}) BOOST_TEST(e.chat(name, "use it", 2).status == 200);
  metrics = e.get("/metrics").body;
  // "a" reloads from disk and evicts "b"; then "b" reloads and evicts "c"; then "c" again.
  BOOST_TEST(metric_value(metrics, "loraplane_sim_adapter_loads_total") == 6);
  BOOST_TEST(metric_value(metrics, "loraplane_sim_cpu_evictions_total") == 4);
  BOOST_TEST(metric_value(metrics, "loraplane_sim_adapter_swaps_total") == 3);
  BOOST_TEST(json::parse(e.get("/v1/models").body).at("data").as_array().size() == 4u);
  t = tiers(e);
  BOOST_TEST(t["a"] == "disk");
  BOOST_TEST(t["b"] == "gpu");
  BOOST_TEST(t["c"] == "gpu");
}

BOOST_AUTO_TEST_CASE(host_memory_keeps_more_than_the_gpu) {
  auto options = test_options();
  options.max_loras = 1;
  options.max_cpu_loras = 3;
  EngineFixture e(options);
  e.load("a");
  e.load("b");
  auto t = tiers(e);
  BOOST_TEST(t["a"] == "cpu");
  BOOST_TEST(t["b"] == "gpu");
  BOOST_TEST(e.chat("a", "x", 2).status == 200);  // swap in from host memory, no reload
  auto metrics = e.get("/metrics").body;
  BOOST_TEST(metric_value(metrics, "loraplane_sim_adapter_loads_total") == 2);
  BOOST_TEST(metric_value(metrics, "loraplane_sim_adapter_swaps_total") == 1);
  BOOST_TEST(metric_value(metrics, "loraplane_sim_cpu_evictions_total") == 0);
  BOOST_TEST(tiers(e)["b"] == "cpu");
}

BOOST_AUTO_TEST_CASE(cache_never_evicts_a_pinned_adapter) {
  SimEngineOptions options = profile("instant");
  options.max_loras = 1;
  options.max_cpu_loras = 1;
  EngineCounters counters;
  LoraCache cache(options, counters);
  cache.insert(1, 100);
  auto now = LoraCache::Clock::now();
  cache.acquire(1, 100, now);
  cache.insert(2, 100);  // no room: 1 is in use, so the cache runs over its size for a while
  BOOST_TEST(where(cache, 1) == "gpu");
  BOOST_TEST(cache.cpu_count() == 2u);
  cache.release(1);  // back within one host-memory slot: 1 (least recently used) goes to disk
  cache.acquire(2, 100, now);
  BOOST_TEST(where(cache, 1) == "disk");
  BOOST_TEST(where(cache, 2) == "gpu");
  cache.erase(2);  // unloaded while running: stays until released
  BOOST_TEST(where(cache, 2) == "gpu");
  cache.release(2);
  BOOST_TEST(where(cache, 2) == "unknown");
}

// vLLM checks `model` when a request arrives; from then on the request carries its adapter, so
// an unload while it waits for the batch does not fail it: the weights are read again if gone.
BOOST_AUTO_TEST_CASE(an_unloaded_adapter_still_serves_the_requests_accepted_for_it) {
  SimEngineOptions options = profile("instant");
  options.max_loras = 1;
  options.load_fixed = Millis(50);
  EngineCounters counters;
  LoraCache cache(options, counters);
  cache.insert(1, 100);
  cache.erase(1);  // unloaded and idle: dropped at once
  BOOST_TEST(where(cache, 1) == "unknown");
  auto now = LoraCache::Clock::now();
  BOOST_TEST(cache.acquire(1, 100, now).count() >= 50'000'000);  // read from disk again
  BOOST_TEST(where(cache, 1) == "gpu");
  BOOST_TEST(counters.adapter_loads == 1u);
  cache.acquire(1, 100, now);  // a second request accepted before the unload
  cache.release(1);
  BOOST_TEST(where(cache, 1) == "gpu");
  cache.release(1);  // its last request: forgotten again
  BOOST_TEST(where(cache, 1) == "unknown");
}

BOOST_AUTO_TEST_CASE(load_costs_follow_bytes_and_bandwidth) {
  SimEngineOptions options;
  options.load_fixed = Millis(50);
  options.load_bandwidth = 2e9;
  BOOST_TEST(load_cost(options, 2'000'000'000).count() == 1'050'000'000);
  BOOST_TEST(swap_cost(options, 8'000'000'000).count() == 1'000'000'000);
  EngineCounters counters;
  options.max_loras = 1;
  options.max_cpu_loras = 2;
  LoraCache cache(options, counters);
  cache.insert(1, 2'000'000);
  cache.insert(2, 2'000'000);  // takes the GPU slot; 1 stays in host memory
  auto now = LoraCache::Clock::now();
  auto wait = cache.acquire(1, 2'000'000, now);
  BOOST_TEST(wait.count() == 250'000);  // 2 MB at 8 GB/s
  cache.release(1);
  BOOST_TEST(cache.acquire(1, 2'000'000, now).count() == 250'000);  // still being copied
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::sim_engine::test
