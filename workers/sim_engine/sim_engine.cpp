#include "workers/sim_engine/sim_engine.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "common/health.hpp"
#include "common/http.hpp"
#include "workers/sim_engine/engine_state.hpp"
#include "workers/sim_engine/handlers.hpp"

namespace loraplane::sim_engine {

struct SimEngine::Impl {
  Impl(asio::io_context& io, SimEngineOptions options)
      : state(std::make_shared<EngineState>(io, std::move(options))) {}

  std::shared_ptr<EngineState> state;
  std::unique_ptr<http::Server> server;
  std::string health_role;
};

SimEngine::SimEngine(asio::io_context& io, SimEngineOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

SimEngine::~SimEngine() { stop(); }

void SimEngine::start() {
  auto& st = *impl_->state;
  if (auto valid = validate(st.options); !valid)
    throw std::invalid_argument("sim-engine: " + valid.error().message);
  if (impl_->server) return;
  http::ServerOptions server_options;
  server_options.role = "sim-engine";
  server_options.host = st.options.host;
  server_options.port = st.options.port;
  server_options.max_body_bytes = st.options.max_body_bytes;
  impl_->server = std::make_unique<http::Server>(st.io, server_options, make_router(impl_->state));
  impl_->server->start();
  if (st.options.register_health) {
    impl_->health_role = "sim-engine:" + st.options.base_model + "@" + std::to_string(port());
    health::register_role(impl_->health_role);
    health::set_ready(impl_->health_role, true);
  }
  spdlog::info(
      "sim-engine {} listening on http://{}:{} (max_loras {}, max_cpu_loras {}, "
      "max_num_seqs {}, ttft {} ms, itl {} ms)",
      st.options.base_model, st.options.host, port(), st.options.max_loras, st.options.cpu_slots(),
      st.options.max_num_seqs, st.options.ttft.count(), st.options.itl.count());
}

std::uint16_t SimEngine::port() const { return impl_->server ? impl_->server->port() : 0; }

void SimEngine::stop() {
  if (!impl_ || !impl_->server) return;
  impl_->server->stop();
  if (!impl_->health_role.empty()) health::set_ready(impl_->health_role, false);
  asio::post(impl_->state->io, [state = impl_->state] {
    if (state->stopping) return;
    state->stopping = true;
    state->scheduler.stop();
  });
}

const SimEngineOptions& SimEngine::options() const { return impl_->state->options; }

}  // namespace loraplane::sim_engine
