// The simulated fleet of `loraplane up`: one engine simulator and one agent per base model
// of the catalog (an embedding model's agent only reports its engine alive: no LoRA there), on
// free ports, in this process.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/asio.hpp"
#include "common/kafka.hpp"
#include "common/model_catalog.hpp"

namespace loraplane::sim_engine {
class SimEngine;
}
namespace loraplane::agent {
class Agent;
}

namespace loraplane::cmd {

class Fleet {
 public:
  Fleet();
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;
  void stop();  // idempotent

  std::vector<std::unique_ptr<sim_engine::SimEngine>> engines;
  std::vector<std::unique_ptr<agent::Agent>> agents;
};

// Starts the engines and agents (agents keep their files under <data_dir>/agents/<base>).
// Throws on a startup failure.
std::unique_ptr<Fleet> start_fleet(asio::io_context& io, const kafka::Cluster& cluster,
                                   const ModelCatalog& catalog,
                                   const std::filesystem::path& data_dir,
                                   const std::string& sim_profile);

}  // namespace loraplane::cmd
