// The path both inference endpoints share: body → request → model resolution (base or loaded
// adapter, else vLLM's 404) → context-length check → a Generation in the simulated batch →
// one JSON body, or an SSE stream of chunks ending in `data: [DONE]`.
#pragma once

#include <memory>

#include "common/http.hpp"
#include "workers/sim_engine/engine_state.hpp"
#include "workers/sim_engine/inference_request.hpp"

namespace loraplane::sim_engine {

awaitable<http::Response> serve_inference(std::shared_ptr<EngineState> state,
                                          http::RequestContext& rc, Api api);

// POST /v1/chat/completions and POST /v1/completions.
awaitable<http::Response> chat_completions(std::shared_ptr<EngineState> state,
                                           http::RequestContext& rc);
awaitable<http::Response> completions(std::shared_ptr<EngineState> state, http::RequestContext& rc);

}  // namespace loraplane::sim_engine
