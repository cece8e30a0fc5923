// GET /sim/v1/state — not a vLLM endpoint: where the simulator holds each adapter (gpu, cpu,
// disk) and what the batch looks like, for tests, benchmarks and operators checking what the
// agent believes. Real engines do not say this; nothing may depend on it against vLLM.
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "workers/sim_engine/handlers.hpp"

namespace loraplane::sim_engine {

namespace {

namespace json = boost::json;

const char* tier_name(std::optional<LoraCache::Tier> tier) {
  if (!tier) return "disk";
  switch (*tier) {
    case LoraCache::Tier::gpu:
      return "gpu";
    case LoraCache::Tier::cpu:
      return "cpu";
    case LoraCache::Tier::disk:
      return "disk";
  }
  return "disk";
}

json::array names(const std::vector<std::string>& list) {
  json::array out;
  for (const auto& n : list) out.emplace_back(n);
  return out;
}

}  // namespace

awaitable<http::Response> sim_state(StatePtr state, http::RequestContext&) {
  auto& st = *state;
  json::array adapters;
  for (const auto& a : st.registry.all()) {
    json::object o;
    o["name"] = a.name;
    o["id"] = a.id;
    o["path"] = a.path;
    o["bytes"] = a.bytes;
    o["rank"] = a.rank;
    o["tier"] = tier_name(st.cache.tier(a.id));
    adapters.push_back(std::move(o));
  }
  json::object body;
  body["base_model"] = st.options.base_model;
  body["max_loras"] = st.options.max_loras;
  body["max_cpu_loras"] = st.options.cpu_slots();
  body["max_num_seqs"] = st.options.max_num_seqs;
  body["running"] = st.scheduler.running();
  body["waiting"] = st.scheduler.waiting();
  body["running_adapters"] = names(st.scheduler.running_adapters());
  body["waiting_adapters"] = names(st.scheduler.waiting_adapters());
  body["adapters"] = std::move(adapters);
  co_return http::json_response(http::Status::ok, json::serialize(body));
}

}  // namespace loraplane::sim_engine
