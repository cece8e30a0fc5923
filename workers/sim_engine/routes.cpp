// The routes of one simulated engine, as vLLM's api_server exposes them (GET /health, not
// /healthz), plus the simulator's own /sim/v1/state. Handlers are free coroutines taking the
// state by shared_ptr; the lambdas here only forward (no coroutine lambdas: GCC 12 bug).

#include "workers/sim_engine/handlers.hpp"
#include "workers/sim_engine/inference.hpp"
#include "workers/sim_engine/openai_json.hpp"

namespace loraplane::sim_engine {

namespace {

awaitable<http::Response> health(http::RequestContext&) {
  http::Response res{http::Status::ok, 11};  // vLLM: 200 with an empty body
  res.prepare_payload();
  co_return res;
}

}  // namespace

http::Response validation_error(std::string_view field, std::string_view type,
                                std::string_view msg) {
  // What FastAPI's RequestValidationError prints, as vLLM passes it on.
  std::string loc = field.empty() ? "('body',)" : "('body', '" + std::string(field) + "')";
  return vllm_error(http::Status::bad_request, "BadRequestError",
                    "[{'type': '" + std::string(type) + "', 'loc': " + loc + ", 'msg': '" +
                        std::string(msg) + "'}]");
}

http::Router make_router(StatePtr state) {
  using http::Verb;
  http::Router router;
  router.add(Verb::get, "/health", health);
  router.add(Verb::get, "/v1/models",
             [state](http::RequestContext& rc) { return list_models(state, rc); });
  router.add(Verb::post, "/v1/load_lora_adapter",
             [state](http::RequestContext& rc) { return load_lora_adapter(state, rc); });
  router.add(Verb::post, "/v1/unload_lora_adapter",
             [state](http::RequestContext& rc) { return unload_lora_adapter(state, rc); });
  router.add(Verb::post, "/v1/chat/completions",
             [state](http::RequestContext& rc) { return chat_completions(state, rc); });
  router.add(Verb::post, "/v1/completions",
             [state](http::RequestContext& rc) { return completions(state, rc); });
  router.add(Verb::post, "/v1/embeddings",
             [state](http::RequestContext& rc) { return embeddings(state, rc); });
  router.add(Verb::get, "/metrics",
             [state](http::RequestContext& rc) { return metrics(state, rc); });
  router.add(Verb::get, "/sim/v1/state",
             [state](http::RequestContext& rc) { return sim_state(state, rc); });
  return router;
}

}  // namespace loraplane::sim_engine
