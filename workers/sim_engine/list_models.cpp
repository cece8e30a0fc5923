// GET /v1/models — vLLM's show_available_models: the base model (root = its path, parent null,
// max_model_len), then every loaded adapter in load order (root = lora_path, parent = the
// base). Cards carry vLLM's ModelCard fields, including the permission stub.
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "common/unix_time.hpp"
#include "workers/sim_engine/handlers.hpp"

namespace loraplane::sim_engine {

namespace {

namespace json = boost::json;

json::object permission(EngineState& st, std::int64_t now) {
  json::object p;
  p["id"] = "modelperm-" + st.random_hex();
  p["object"] = "model_permission";
  p["created"] = now;
  p["allow_create_engine"] = false;
  p["allow_sampling"] = true;
  p["allow_logprobs"] = true;
  p["allow_search_indices"] = false;
  p["allow_view"] = true;
  p["allow_fine_tuning"] = false;
  p["organization"] = "*";
  p["group"] = nullptr;
  p["is_blocking"] = false;
  return p;
}

json::object card(EngineState& st, std::string_view id, std::string_view root,
                  const json::value& parent, const json::value& max_model_len, std::int64_t now) {
  json::object c;
  c["id"] = id;
  c["object"] = "model";
  c["created"] = now;
  c["owned_by"] = "vllm";
  c["root"] = root;
  c["parent"] = parent;
  c["max_model_len"] = max_model_len;
  c["permission"] = json::array{permission(st, now)};
  return c;
}

}  // namespace

awaitable<http::Response> list_models(StatePtr state, http::RequestContext&) {
  auto& st = *state;
  const auto now = unix_now_seconds();
  const auto& o = st.options;
  json::array data;
  data.push_back(card(st, o.base_model,
                      o.base_model_root.empty() ? o.base_model : o.base_model_root, nullptr,
                      o.max_model_len, now));
  for (const auto& adapter : st.registry.all())
    data.push_back(card(st, adapter.name, adapter.path, json::value(o.base_model), nullptr, now));
  json::object body;
  body["object"] = "list";
  body["data"] = std::move(data);
  co_return http::json_response(http::Status::ok, json::serialize(body));
}

}  // namespace loraplane::sim_engine
