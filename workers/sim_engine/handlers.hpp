// The engine simulator's HTTP endpoints, one per file, and the router that wires them.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/http.hpp"
#include "workers/sim_engine/engine_state.hpp"

namespace loraplane::sim_engine {

using StatePtr = std::shared_ptr<EngineState>;

awaitable<http::Response> load_lora_adapter(StatePtr state, http::RequestContext& rc);
awaitable<http::Response> unload_lora_adapter(StatePtr state, http::RequestContext& rc);
awaitable<http::Response> list_models(StatePtr state, http::RequestContext& rc);
awaitable<http::Response> metrics(StatePtr state, http::RequestContext& rc);
awaitable<http::Response> sim_state(StatePtr state, http::RequestContext& rc);
awaitable<http::Response> embeddings(StatePtr state, http::RequestContext& rc);

// vLLM answers a body its pydantic model rejects with 400 and the validation errors as text;
// `field` missing or of the wrong type.
http::Response validation_error(std::string_view field, std::string_view type,
                                std::string_view msg);

// /metrics text, exposed for tests: prometheus_client's number format and the two sections.
std::string go_float(double value);
std::string render_vllm_metrics(const EngineState& state);
std::string render_sim_metrics(const EngineState& state);

http::Router make_router(StatePtr state);

}  // namespace loraplane::sim_engine
