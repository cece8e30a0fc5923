// POST /v1/unload_lora_adapter {"lora_name"} — vLLM's OpenAIServingModels.unload_lora_adapter:
// 400 without a name, 404 for a name not loaded, else the name leaves /v1/models at once and
// its GPU and host-memory slots are freed once the requests accepted for it (running or still
// waiting for the batch) have finished: like vLLM, an unload never fails those requests.
#include <spdlog/spdlog.h>

#include "workers/sim_engine/handlers.hpp"
#include "workers/sim_engine/json_input.hpp"
#include "workers/sim_engine/openai_json.hpp"

namespace loraplane::sim_engine {

awaitable<http::Response> unload_lora_adapter(StatePtr state, http::RequestContext& rc) {
  auto root = parse_json(rc.request.body(), 64 * 1024);
  simdjson::dom::object o;
  if (!root || root->get_object().get(o))
    co_return validation_error("", "model_attributes_type", "Input should be a valid dictionary");
  auto name_field = field(o, "lora_name");
  std::string_view name_view;
  if (!name_field) co_return validation_error("lora_name", "missing", "Field required");
  if (name_field->get_string().get(name_view))
    co_return validation_error("lora_name", "string_type", "Input should be a valid string");
  std::string name(name_view);
  if (name.empty())
    co_return vllm_error(http::Status::bad_request, "InvalidUserInput",
                         "'lora_name' needs to be provided to unload a LoRA adapter.");
  auto& st = *state;
  auto lock = co_await st.registry.lock(name);
  auto removed = st.registry.remove(name);
  if (!removed)
    co_return vllm_error(http::Status::not_found, "NotFoundError",
                         "The lora adapter '" + name + "' cannot be found.");
  st.cache.erase(removed->id);
  ++st.counters.adapter_unloads;
  spdlog::info("sim-engine {}: removed LoRA adapter '{}'", st.options.base_model, name);
  co_return http::text_response(http::Status::ok,
                                "Success: LoRA adapter '" + name + "' removed successfully.");
}

}  // namespace loraplane::sim_engine
