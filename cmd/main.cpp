// loraplane: one binary, one sub-command per role. This file only parses flags and hands off.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "cmd/commands.hpp"
#include "common/model_catalog.hpp"
#include "workers/sim_engine/cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"loraplane: bring-your-own LoRA adapters for a fleet of vLLM engines"};
  app.require_subcommand(1);
  app.fallthrough();  // --log-level and --log-json also after the sub-command
  std::string log_level = "info";
  bool log_json = false;
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.add_flag("--log-json", log_json, "one JSON object per log line");

  loraplane::cmd::UpOptions up;
  auto* up_cmd = app.add_subcommand("up", "run every role in one process (embedded Kafka by default)");
  up_cmd->add_option("--port", up.port, "gateway port (0 = any free port)")->capture_default_str();
  up_cmd->add_option("--host", up.host, "gateway listen address")->capture_default_str();
  up_cmd->add_option("--data-dir", up.data_dir, "where local state lives")->capture_default_str();
  up_cmd->add_option("--kafka", up.kafka, "bootstrap servers of a real cluster (default: embedded)");
  up.models = loraplane::default_catalog_path(argv[0]);
  up_cmd->add_option("--models", up.models, "base-model catalog")->capture_default_str();
  up_cmd->add_option("--sim-profile", up.sim_profile, "simulated engines: realistic | instant")
      ->check(CLI::IsMember({"realistic", "instant"}))
      ->capture_default_str();

  loraplane::cmd::UpOptions gw;
  auto* gw_cmd = app.add_subcommand("gateway", "run the gateway role against a Kafka cluster");
  gw_cmd->add_option("--port", gw.port, "listen port (0 = any free port)")->capture_default_str();
  gw_cmd->add_option("--host", gw.host, "listen address")->capture_default_str();
  gw_cmd->add_option("--kafka", gw.kafka, "bootstrap servers")->required();
  gw.models = loraplane::default_catalog_path(argv[0]);
  gw_cmd->add_option("--models", gw.models, "base-model catalog")->capture_default_str();

  std::string role;
  auto* worker_cmd = app.add_subcommand("worker", "run a worker role (validate|distribute|agent)");
  worker_cmd->add_option("--role", role, "validate|distribute|agent")
      ->required()
      ->check(CLI::IsMember({"validate", "distribute", "agent"}));
  loraplane::cmd::WorkerOptions worker;
  worker_cmd->add_option("--kafka", worker.kafka, "bootstrap servers")->required();
  worker_cmd->add_option("--data-dir", worker.data_dir, "local data (distribute, agent)")
      ->capture_default_str();
  worker_cmd->add_option("--node-id", worker.node_id, "storage node id (distribute)")
      ->capture_default_str();
  worker_cmd->add_option("--port", worker.port, "listen port (distribute, agent; 0 = any free)")
      ->capture_default_str();
  worker_cmd->add_option("--engine", worker.engine, "engine base URL, http://host:port (agent)");
  worker_cmd->add_option("--base", worker.base, "base model the engine serves (agent)");
  worker_cmd->add_option("--engine-id", worker.engine_id, "residency key (agent; default base@host:port)");
  worker_cmd->add_option("--max-loras", worker.max_loras, "adapters kept in the engine (agent)")
      ->capture_default_str();
  worker_cmd->add_option("--disk-budget-mb", worker.disk_budget_mb,
                         "local adapter files, MB (agent)")
      ->capture_default_str();
  worker.models = loraplane::default_catalog_path(argv[0]);
  worker_cmd->add_option("--models", worker.models, "base-model catalog")->capture_default_str();

  loraplane::sim_engine::SimEngineFlags sim;
  auto* sim_cmd = app.add_subcommand("sim-engine", "run a vLLM-compatible engine simulator");
  loraplane::sim_engine::add_flags(*sim_cmd, sim);
  auto* import_cmd = app.add_subcommand("import", "batch-import adapters from a manifest");
  auto* admin_cmd = app.add_subcommand("admin", "administer tenants and keys");
  for (auto* later : {import_cmd, admin_cmd}) later->allow_extras();

  CLI11_PARSE(app, argc, argv);
  loraplane::cmd::init(log_level, log_json);

  if (*up_cmd) return loraplane::cmd::run_up(up, /*all_roles=*/true);
  if (*gw_cmd) return loraplane::cmd::run_up(gw, /*all_roles=*/false);
  if (*sim_cmd) {
    try {
      return loraplane::sim_engine::run(loraplane::sim_engine::to_options(sim));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "loraplane sim-engine: %s\n", e.what());
      return 2;
    }
  }
  if (*worker_cmd) return loraplane::cmd::run_worker(role, worker);
  std::string name = app.get_subcommands().front()->get_name();
  std::fprintf(stderr,
               "loraplane %s: not available in this build yet; see the project issues "
               "(import, admin)\n",
               name.c_str());
  return 2;
}
