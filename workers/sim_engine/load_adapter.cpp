// POST /v1/load_lora_adapter {"lora_name","lora_path","load_inplace"?} — vLLM's
// OpenAIServingModels.load_lora_adapter (vllm/entrypoints/openai/serving_models.py): the same
// checks in the same order, the same messages and status codes. The load itself reads the
// adapter directory (adapter_files.cpp) and takes fixed + bytes / bandwidth of simulated time.
#include <spdlog/spdlog.h>

#include <variant>

#include "workers/sim_engine/adapter_files.hpp"
#include "workers/sim_engine/handlers.hpp"
#include "workers/sim_engine/json_input.hpp"
#include "workers/sim_engine/openai_json.hpp"

namespace loraplane::sim_engine {

namespace {

constexpr std::size_t kMaxNameBytes = 1024;
constexpr std::size_t kMaxPathBytes = 4096;
// vLLM's V1 engine client wraps every failure of the engine-side call in this.
constexpr std::string_view kEngineCallFailed = "Call to add_lora method failed: ";

struct LoadRequest {
  std::string name;
  std::string path;
  bool load_inplace = false;
};

std::variant<LoadRequest, http::Response> parse(std::string_view body) {
  auto root = parse_json(body, 64 * 1024);
  simdjson::dom::object o;
  if (!root || root->get_object().get(o))
    return validation_error("", "model_attributes_type", "Input should be a valid dictionary");
  LoadRequest req;
  std::string_view s;
  auto name = field(o, "lora_name");
  if (!name) return validation_error("lora_name", "missing", "Field required");
  if (name->get_string().get(s))
    return validation_error("lora_name", "string_type", "Input should be a valid string");
  req.name = std::string(s);
  auto path = field(o, "lora_path");
  if (!path) return validation_error("lora_path", "missing", "Field required");
  if (path->get_string().get(s))
    return validation_error("lora_path", "string_type", "Input should be a valid string");
  req.path = std::string(s);
  if (auto inplace = field(o, "load_inplace")) {
    if (inplace->get_bool().get(req.load_inplace))
      return validation_error("load_inplace", "bool_type", "Input should be a valid boolean");
  }
  if (req.name.size() > kMaxNameBytes || req.path.size() > kMaxPathBytes)
    return vllm_error(http::Status::bad_request, "BadRequestError",
                      "lora_name is limited to 1024 bytes and lora_path to 4096 bytes");
  return req;
}

http::Response load_failed(const Error& error) {
  if (error.code == Errc::not_found)
    return vllm_error(http::Status::not_found, "NotFoundError",
                      std::string(kEngineCallFailed) + error.message);
  return vllm_error(http::Status::bad_request, "BadRequestError",
                    std::string(kEngineCallFailed) + error.message);
}

http::Response too_many(EngineState& st) {
  ++st.counters.adapter_load_failures;
  return vllm_error(http::Status::bad_request, "BadRequestError",
                    "The engine simulator holds at most " +
                        std::to_string(st.options.max_adapters) +
                        " adapters (max_adapters); unload one first.");
}

}  // namespace

awaitable<http::Response> load_lora_adapter(StatePtr state, http::RequestContext& rc) {
  auto parsed = parse(rc.request.body());
  if (auto* error = std::get_if<http::Response>(&parsed)) co_return std::move(*error);
  const auto req = std::get<LoadRequest>(std::move(parsed));
  if (req.name.empty() || req.path.empty())
    co_return vllm_error(http::Status::bad_request, "InvalidUserInput",
                         "Both 'lora_name' and 'lora_path' must be provided.");
  auto& st = *state;
  auto lock = co_await st.registry.lock(req.name);
  const bool exists = st.registry.find(req.name) != nullptr;
  if (exists && !req.load_inplace)
    co_return vllm_error(http::Status::bad_request, "InvalidUserInput",
                         "The lora adapter '" + req.name +
                             "' has already been loaded. If you want to load the adapter in "
                             "place, set 'load_inplace' to True.");
  if (!exists && st.registry.size() >= st.options.max_adapters) co_return too_many(st);
  auto files = read_adapter_dir(req.name, req.path, st.options.max_lora_rank);
  if (!files) {
    ++st.counters.adapter_load_failures;
    co_return load_failed(files.error());
  }
  co_await sleep_for(load_cost(st.options, files->bytes));
  // other names may have been loaded meanwhile
  if (!exists && st.registry.size() >= st.options.max_adapters) co_return too_many(st);
  const auto& record = st.registry.put(req.name, req.path, files->bytes, files->rank);
  st.cache.insert(record.id, record.bytes);
  ++st.counters.adapter_loads;
  spdlog::info("sim-engine {}: loaded LoRA adapter '{}' from {} ({} bytes, rank {})",
               st.options.base_model, req.name, req.path, files->bytes, files->rank);
  co_return http::text_response(http::Status::ok,
                                "Success: LoRA adapter '" + req.name + "' added successfully.");
}

}  // namespace loraplane::sim_engine
