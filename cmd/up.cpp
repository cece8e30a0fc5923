// `loraplane up` and `loraplane gateway`: wire the roles of this process to one io_context,
// a Kafka cluster (embedded mock or real) and the data dir; stop cleanly on SIGINT/SIGTERM.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cmd/commands.hpp"
#include "cmd/fleet.hpp"
#include "common/asio.hpp"
#include "common/health.hpp"
#include "common/kafka.hpp"
#include "common/log.hpp"
#include "common/model_catalog.hpp"
#include "common/sha256.hpp"
#include "gateway/gateway.hpp"
#include "storage/db.hpp"
#include "workers/distribute/distribute_worker.hpp"
#include "workers/validate/validate_worker.hpp"

namespace loraplane::cmd {

namespace {

// The admin token comes from LORAPLANE_ADMIN_TOKEN; without it a random one is generated and
// written to <data-dir>/admin-token (mode 0600). The token itself is never logged.
std::string admin_token(const std::filesystem::path& data_dir) {
  if (const char* env = std::getenv("LORAPLANE_ADMIN_TOKEN"); env && *env) return env;
  auto path = data_dir / "admin-token";
  if (std::ifstream in(path); in) {
    std::string token;
    std::getline(in, token);
    if (!token.empty()) {
      spdlog::info("admin token read from {}", path.string());
      return token;
    }
  }
  std::string token = "adm-" + random_base62(32);
  {
    std::ofstream out(path, std::ios::trunc);
    out << token << '\n';
  }
  ::chmod(path.c_str(), 0600);
  spdlog::info("LORAPLANE_ADMIN_TOKEN not set; generated one in {}", path.string());
  return token;
}

void report_ready_when_healthy(asio::steady_timer& timer, std::uint16_t port,
                               const validate::ValidateWorker* validate) {
  if (validate && validate->ready()) health::set_ready("validate", true);
  if (health::all_ready()) {
    spdlog::info("loraplane ready on http://127.0.0.1:{}", port);
    return;
  }
  timer.expires_after(std::chrono::milliseconds(20));
  timer.async_wait([&timer, port, validate](boost::system::error_code ec) {
    if (!ec) report_ready_when_healthy(timer, port, validate);
  });
}

}  // namespace

void init(const std::string& log_level, bool log_json) { init_logging(log_level, log_json); }

int run_up(const UpOptions& options, bool all_roles) {
  std::filesystem::path data_dir = options.data_dir;
  std::error_code fs_error;
  std::filesystem::create_directories(data_dir, fs_error);
  if (fs_error) {
    spdlog::error("cannot create data dir {}: {}", data_dir.string(), fs_error.message());
    return 1;
  }
  auto cluster = options.kafka.empty() ? kafka::Cluster::embedded()
                                       : kafka::Cluster::external(options.kafka);
  spdlog::info("kafka: {} ({})", cluster->bootstrap(), cluster->is_mock() ? "embedded" : "external");
  if (auto st = cluster->ensure_topics(kafka::default_topics(), std::chrono::seconds(30)); !st) {
    spdlog::error("kafka topics: {}", st.error().message);
    return 1;
  }

  auto catalog = ModelCatalog::load(options.models);
  if (!catalog) {
    spdlog::error("{}", catalog.error().message);
    return 1;
  }

  asio::io_context io;
  gateway::GatewayOptions gw_options;
  gw_options.catalog = std::move(catalog.value());
  gw_options.host = options.host;
  gw_options.port = options.port;
  gw_options.admin_token = admin_token(data_dir);
  gateway::Gateway gw(io, *cluster, gw_options);
  try {
    gw.start();
  } catch (const std::exception& e) {
    spdlog::error("gateway failed to start on {}:{}: {}", options.host, options.port, e.what());
    return 1;
  }
  // `up` also runs a validate worker and one storage node; `gateway` runs the gateway alone.
  std::unique_ptr<storage::Db> db;
  std::unique_ptr<distribute::DistributeWorker> storage_node;
  std::unique_ptr<validate::ValidateWorker> validate;
  std::unique_ptr<Fleet> fleet;
  if (all_roles) {
    auto opened = storage::Db::open((data_dir / "storage").string());
    if (!opened) {
      spdlog::error("storage: {}", opened.error().message);
      return 1;
    }
    db = std::move(opened.value());
    distribute::DistributeOptions storage_options;
    storage_options.node_id = "storage-0";
    storage_node = std::make_unique<distribute::DistributeWorker>(io, *cluster, *db, storage_options);
    validate = std::make_unique<validate::ValidateWorker>(*cluster, gw_options.catalog,
                                                         validate::ValidateOptions{});
    try {
      storage_node->start();
      health::register_role("validate");
      validate->start();
      fleet = start_fleet(io, *cluster, gw_options.catalog, data_dir, options.sim_profile);
    } catch (const std::exception& e) {
      spdlog::error("workers failed to start: {}", e.what());
      return 1;
    }
  }

  asio::steady_timer ready_timer(io);
  report_ready_when_healthy(ready_timer, gw.port(), validate.get());
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: draining", signo);
    ready_timer.cancel();
    gw.stop();
    if (validate) validate->stop();
    if (storage_node) storage_node->stop();
    if (fleet) fleet->stop();
    io.stop();
  });
  io.run();
  spdlog::info("loraplane stopped");
  return 0;
}

}  // namespace loraplane::cmd
