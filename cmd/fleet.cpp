// `loraplane up`'s simulated fleet (fleet.hpp).
#include "cmd/fleet.hpp"

#include <spdlog/spdlog.h>

#include <fstream>

#include "common/sha256.hpp"
#include "workers/agent/agent.hpp"
#include "workers/sim_engine/sim_engine.hpp"

namespace loraplane::cmd {

namespace {

// Stable across restarts of one data dir (the residency key and the consumer group), distinct
// between data dirs (several `up` on one cluster).
std::string engine_id(const std::filesystem::path& agent_dir, const std::string& base) {
  const auto path = agent_dir / "engine-id";
  std::string id;
  if (std::ifstream in(path); in) std::getline(in, id);
  if (!id.empty()) return id;
  id = base + "@sim-" + random_base62(8);
  std::filesystem::create_directories(agent_dir);
  std::ofstream(path) << id << '\n';
  return id;
}

}  // namespace

Fleet::Fleet() = default;

Fleet::~Fleet() { stop(); }

void Fleet::stop() {
  for (auto& a : agents) a->stop();
  for (auto& e : engines) e->stop();
}

std::unique_ptr<Fleet> start_fleet(asio::io_context& io, const kafka::Cluster& cluster,
                                   const ModelCatalog& catalog,
                                   const std::filesystem::path& data_dir,
                                   const std::string& sim_profile) {
  auto fleet = std::make_unique<Fleet>();
  for (const auto& model : catalog.models()) {
    auto engine_options = sim_engine::profile(sim_profile);
    engine_options.base_model = model.id;
    if (model.kind == ModelKind::embedding)  // LoRA-less: its agent only reports it alive
      engine_options.embedding_dim = static_cast<std::size_t>(model.hidden_size);
    engine_options.port = 0;
    auto engine = std::make_unique<sim_engine::SimEngine>(io, engine_options);
    engine->start();
    agent::AgentOptions agent_options;
    agent_options.engine_url = "http://127.0.0.1:" + std::to_string(engine->port());
    agent_options.base_model = model.id;
    const auto agent_dir = data_dir / "agents" / model.id;
    agent_options.data_dir = agent_dir.string();
    agent_options.engine_id = engine_id(agent_dir, model.id);
    agent_options.max_loras = engine_options.max_loras;
    auto agent = std::make_unique<agent::Agent>(io, cluster, agent_options);
    agent->start();
    spdlog::info("fleet: {} engine on {} with agent {}", model.id, agent_options.engine_url,
                 agent->url());
    fleet->engines.push_back(std::move(engine));
    fleet->agents.push_back(std::move(agent));
  }
  return fleet;
}

}  // namespace loraplane::cmd
