// `loraplane worker --role validate|distribute|agent`: one worker role in its own process, each
// with a listener serving /healthz and /metrics.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>

#include "cmd/commands.hpp"
#include "common/asio.hpp"
#include "common/health.hpp"
#include "common/kafka.hpp"
#include "common/http.hpp"
#include "common/model_catalog.hpp"
#include "common/ops_routes.hpp"
#include "storage/db.hpp"
#include "workers/agent/agent.hpp"
#include "workers/distribute/distribute_worker.hpp"
#include "workers/validate/validate_worker.hpp"

namespace loraplane::cmd {

namespace {

int run_agent(const kafka::Cluster& cluster, const WorkerOptions& options) {
  if (options.engine.empty() || options.base.empty()) {
    spdlog::error("worker --role agent needs --engine URL and --base MODEL");
    return 2;
  }
  agent::AgentOptions o;
  o.engine_url = options.engine;
  o.base_model = options.base;
  o.engine_id = options.engine_id;
  o.data_dir = options.data_dir;
  o.port = options.port;
  o.host = options.host;
  o.advertised_url = options.advertise_url;
  o.max_loras = options.max_loras;
  o.disk_budget_bytes = options.disk_budget_mb * 1'000'000;
  o.session_timeout = std::chrono::milliseconds(options.session_timeout_ms);
  asio::io_context io;
  std::unique_ptr<agent::Agent> worker;
  try {
    worker = std::make_unique<agent::Agent>(io, cluster, o);
    worker->start();
  } catch (const std::exception& e) {
    spdlog::error("agent failed to start: {}", e.what());
    return 1;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    worker->stop();
    // let the stop reach the core, then end the loop
    asio::post(io, [&io] { io.stop(); });
  });
  io.run();
  worker.reset();
  return 0;
}

// The validate worker has no route of its own: its listener serves /healthz, which turns 200
// once the worker takes jobs (the worker says so), and /metrics.
int run_validate(const kafka::Cluster& cluster, const WorkerOptions& options) {
  auto catalog = ModelCatalog::load(options.models);
  if (!catalog) {
    spdlog::error("{}", catalog.error().message);
    return 1;
  }
  asio::io_context io;
  http::Router router;
  http::add_ops_routes(router);
  http::ServerOptions server_options;
  server_options.role = "validate";
  server_options.host = options.host;
  server_options.port = options.port;
  server_options.max_body_bytes = std::size_t{64} * 1024;  // no route here takes a body
  http::Server server(io, server_options, std::move(router));
  try {
    server.start();
  } catch (const std::exception& e) {
    spdlog::error("validate: cannot listen on {}:{}: {}", options.host, options.port, e.what());
    return 1;
  }
  validate::ValidateOptions validate_options;
  validate_options.session_timeout = std::chrono::milliseconds(options.session_timeout_ms);
  validate_options.job_lanes = options.job_lanes;
  validate::ValidateWorker worker(cluster, catalog.value(), validate_options);
  worker.start();
  spdlog::info("validate worker started; /healthz and /metrics on http://{}:{}", options.host,
               server.port());
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    health::set_ready("validate", false);
    server.stop();
    io.stop();
  });
  io.run();
  worker.stop();
  return 0;
}

}  // namespace

int run_worker(const std::string& role, const WorkerOptions& options) {
  auto cluster = kafka::Cluster::external(options.kafka);
  if (auto st = cluster->ensure_topics(kafka::default_topics(), std::chrono::seconds(30)); !st) {
    spdlog::error("kafka topics: {}", st.error().message);
    return 1;
  }
  if (role == "agent") return run_agent(*cluster, options);
  if (role == "validate") return run_validate(*cluster, options);
  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::filesystem::create_directories(options.data_dir);
  auto db = storage::Db::open((std::filesystem::path(options.data_dir) / "storage").string());
  if (!db) {
    spdlog::error("storage: {}", db.error().message);
    return 1;
  }
  distribute::DistributeOptions node;
  node.node_id = options.node_id;
  node.port = options.port;
  node.host = options.host;
  node.advertised_url = options.advertise_url;
  distribute::DistributeWorker worker(io, *cluster, *db.value(), node);
  worker.start();
  spdlog::info("storage node {} serving blobs on http://{}:{} (advertised as {})",
               options.node_id, options.host, worker.port(), worker.blob_url("<sha256>"));
  signals.async_wait([&](boost::system::error_code, int) {
    worker.stop();
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace loraplane::cmd
