// loraplane: one binary, one sub-command per role. This file only parses flags and hands off.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "cmd/admin.hpp"
#include "cmd/commands.hpp"
#include "cmd/import/run.hpp"
#include "common/kafka.hpp"
#include "common/model_catalog.hpp"
#include "workers/sim_engine/cli.hpp"

namespace {

// The gateway's own flags, the same on `up` and `gateway`.
void add_gateway_flags(CLI::App* cmd, loraplane::cmd::UpOptions& o) {
  cmd->add_option("--tenant-max-inflight", o.tenant_max_inflight,
                  "inference requests in flight per tenant (0 = by tier: 32/128/512)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("--client-timeout", o.client_timeout_s,
                  "seconds a client may take to send a request header; each read of a "
                  "request body must finish within twice this (slow clients are cut)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--max-uploads", o.max_uploads,
                  "uploads in progress on this gateway (beyond: 503 + Retry-After)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--tenant-max-uploads", o.tenant_max_uploads,
                  "uploads in progress per tenant (beyond: 429 + Retry-After)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--max-request-bytes", o.max_request_bytes,
                  "largest JSON request body, e.g. a chat request (beyond: 413); uploads "
                  "have the tier's file limit")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{64} << 20))
      ->capture_default_str();
  cmd->add_option("--ensure-timeout", o.ensure_timeout_s,
                  "seconds an agent may take to load an adapter a request needs (beyond: "
                  "another engine, or 503 + Retry-After)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loraplane: bring-your-own LoRA adapters for a fleet of vLLM engines"};
  app.require_subcommand(1);
  app.fallthrough();  // --log-level and --log-json also after the sub-command
  std::string log_level = "info";
  bool log_json = false;
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.add_flag("--log-json", log_json, "one JSON object per log line");
  std::string topic_prefix;
  app.add_option("--topic-prefix", topic_prefix,
                 "prefix of every Kafka topic and consumer group (several deployments on one "
                 "cluster), e.g. staging.")
      ->envname("LORAPLANE_TOPIC_PREFIX");

  loraplane::cmd::UpOptions up;
  auto* up_cmd = app.add_subcommand("up", "run every role in one process (embedded Kafka by default)");
  up_cmd->add_option("--port", up.port, "gateway port (0 = any free port)")->capture_default_str();
  up_cmd->add_option("--host", up.host, "gateway listen address")->capture_default_str();
  up_cmd->add_option("--data-dir", up.data_dir, "where local state lives")->capture_default_str();
  up_cmd->add_option("--kafka", up.kafka, "bootstrap servers of a real cluster (default: embedded)");
  up.models = loraplane::default_catalog_path(argv[0]);
  up_cmd->add_option("--models", up.models, "base-model catalog")->capture_default_str();
  add_gateway_flags(up_cmd, up);
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
  add_gateway_flags(gw_cmd, gw);

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
  worker_cmd->add_option("--host", worker.host, "listen address (/healthz, /metrics, role API)")
      ->capture_default_str();
  worker_cmd->add_option("--advertise-url", worker.advertise_url,
                         "base URL other machines reach this node at (distribute, agent; "
                         "default http://<host>:<port>)");
  auto* worker_port = worker_cmd->add_option(
      "--port", worker.port,
      "listen port, 0 = any free (default: 0; validate: " +
          std::to_string(loraplane::cmd::kValidatePort) + ")");
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
  worker_cmd->add_option("--job-lanes", worker.job_lanes,
                         "validate: jobs handled at once, each of another partition of "
                         "loraplane.jobs (a tenant's long import holds up only the tenants of "
                         "its partition); more than the worker's partitions adds nothing")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  worker_cmd->add_option("--session-timeout-ms", worker.session_timeout_ms,
                         "validate: how long a crashed member keeps its job partitions; agent: how "
                         "long a crashed agent keeps its load-events partitions (its restart "
                         "waits that long for them)")
      ->check(CLI::Range(1000, 300000))
      ->capture_default_str();

  loraplane::sim_engine::SimEngineFlags sim;
  auto* sim_cmd = app.add_subcommand("sim-engine", "run a vLLM-compatible engine simulator");
  loraplane::sim_engine::add_flags(*sim_cmd, sim);
  loraplane::cmd::import::Options import;
  auto* import_cmd = app.add_subcommand("import", "batch-import adapters from a manifest");
  import_cmd->add_option("--manifest", import.manifest,
                         "FILE.jsonl or FILE.csv: name, base_model, file|repo, config, lora_alpha, "
                         "revision, hf_token")
      ->required();
  import_cmd->add_option("--api", import.api, "gateway base url")->capture_default_str();
  import_cmd->add_option("--key", import.key, "tenant API key (default: $LORAPLANE_API_KEY)");
  import_cmd->add_option("--concurrency", import.concurrency, "adapters in flight")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  import_cmd->add_flag("--json", import.json, "print the summary as JSON");
  import_cmd->add_flag("!--no-wait", import.wait, "do not wait for each adapter to be ready");
  int import_timeout = static_cast<int>(import.timeout.count());
  int import_unreachable = static_cast<int>(import.unreachable_timeout.count());
  import_cmd->add_option("--timeout", import_timeout, "seconds per adapter, upload to ready")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  import_cmd->add_option("--unreachable-timeout", import_unreachable,
                         "seconds the gateway may be unreachable or answer 429/5xx before a wait gives up")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  loraplane::cmd::AdminCommand admin;
  loraplane::cmd::add_admin_command(app, admin);

  CLI11_PARSE(app, argc, argv);
  std::string process_role = "loraplane";
  for (const auto* sub : app.get_subcommands()) process_role = sub->get_name();
  if (*worker_cmd) process_role = role;
  loraplane::cmd::init(log_level, log_json, process_role);
  try {
    loraplane::kafka::set_topic_prefix(topic_prefix);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "loraplane: --topic-prefix: %s\n", e.what());
    return 2;
  }

  if (*import_cmd) {
    import.timeout = std::chrono::seconds(import_timeout);
    import.unreachable_timeout = std::chrono::seconds(import_unreachable);
    return loraplane::cmd::import::run(import);
  }
  if (*admin.app) return loraplane::cmd::run_admin(admin);
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
  if (*worker_cmd) {
    if (role == "validate" && worker_port->count() == 0)
      worker.port = loraplane::cmd::kValidatePort;
    return loraplane::cmd::run_worker(role, worker);
  }
  std::fprintf(stderr, "loraplane: no sub-command given (see --help)\n");
  return 2;
}
