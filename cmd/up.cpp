// `loraplane up` and `loraplane gateway`: wire the roles of this process to one io_context,
// a Kafka cluster (embedded mock or real) and the data dir; stop cleanly on SIGINT/SIGTERM.
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include "cmd/commands.hpp"
#include "cmd/fleet.hpp"
#include "common/asio.hpp"
#include "common/health.hpp"
#include "common/kafka.hpp"
#include "common/log.hpp"
#include "common/model_catalog.hpp"
#include "common/seal.hpp"
#include "common/sha256.hpp"
#include "cmd/journal.hpp"
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

// Gateways seal a tenant's hf_token for the validate workers with LORAPLANE_SEAL_KEY; `up`
// runs both, so without the variable it keeps a key in the data dir (mode 0600).
void ensure_seal_key(const std::filesystem::path& data_dir) {
  if (const char* env = std::getenv("LORAPLANE_SEAL_KEY"); env && *env) return;
  auto path = data_dir / "seal-key";
  std::string key;
  if (std::ifstream in(path); in) std::getline(in, key);
  if (key.size() != 64) {
    key = Sealer::generate_hex_key();
    std::ofstream out(path, std::ios::trunc);
    out << key << '\n';
    out.close();
    ::chmod(path.c_str(), 0600);
  }
  ::setenv("LORAPLANE_SEAL_KEY", key.c_str(), 1);
}

void report_ready_when_healthy(asio::steady_timer& timer, std::uint16_t port) {
  if (health::all_ready()) {
    spdlog::info("loraplane ready on http://127.0.0.1:{}", port);
    return;
  }
  timer.expires_after(std::chrono::milliseconds(20));
  timer.async_wait([&timer, port](boost::system::error_code ec) {
    if (!ec) report_ready_when_healthy(timer, port);
  });
}

}  // namespace

void init(const std::string& log_level, bool log_json, const std::string& role) {
  logging::set_process_role(role);
  init_logging(log_level, log_json);
  raise_open_files_limit();
}

// Every connection, RocksDB file and Kafka socket is a descriptor, and many systems start a
// process with a soft limit of 1024 under a far higher hard one: the gateway alone takes 4096
// connections. The soft limit goes up to the hard one (at most 2^20).
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t want = limit.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : limit.rlim_max;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur >= want) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("open files limit stays at {}: raising it to {} failed", before, want);
    return;
  }
  spdlog::debug("open files limit raised from {} to {}", before, want);
}

namespace {

// The storage node of `up` keeps its port across restarts (remembered in the data dir), so the
// blob urls recorded in adapter states stay valid; if the port is taken, it takes a free one.
std::uint16_t remembered_port(const std::filesystem::path& file) {
  std::ifstream in(file);
  unsigned port = 0;
  if (in >> port && port > 0 && port < 65536) return static_cast<std::uint16_t>(port);
  return 0;
}

void remember_port(const std::filesystem::path& file, std::uint16_t port) {
  std::ofstream out(file, std::ios::trunc);
  out << port << '\n';
}

std::unique_ptr<distribute::DistributeWorker> start_storage_node(
    asio::io_context& io, const kafka::Cluster& cluster, storage::Db& db,
    const std::filesystem::path& data_dir) {
  const auto port_file = data_dir / "storage-port";
  distribute::DistributeOptions options;
  options.node_id = "storage-0";
  options.port = remembered_port(port_file);
  auto node = std::make_unique<distribute::DistributeWorker>(io, cluster, db, options);
  try {
    node->start();
  } catch (const std::exception& e) {
    if (options.port == 0) throw;
    spdlog::warn("storage port {} unavailable ({}); taking a free one", options.port, e.what());
    options.port = 0;
    node = std::make_unique<distribute::DistributeWorker>(io, cluster, db, options);
    node->start();
  }
  remember_port(port_file, node->port());
  return node;
}

// How long a stop waits for requests in flight (uploads included) before it cuts them.
constexpr auto kDrainTimeout = std::chrono::seconds(30);

}  // namespace

int run_up(const UpOptions& options, bool all_roles) {
  std::filesystem::path data_dir = options.data_dir;
  std::error_code fs_error;
  std::filesystem::create_directories(data_dir, fs_error);
  if (fs_error) {
    spdlog::error("cannot create data dir {}: {}", data_dir.string(), fs_error.message());
    return 1;
  }
  if (all_roles) ensure_seal_key(data_dir);
  auto cluster = options.kafka.empty() ? kafka::Cluster::embedded((data_dir / "spool").string())
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

  // `up` runs a storage node on the data dir's RocksDB; in embedded mode the same database
  // journals the state topics, replayed here before any role reads them.
  std::unique_ptr<storage::Db> db;
  std::unique_ptr<Journal> journal;
  if (all_roles) {
    auto opened = storage::Db::open((data_dir / "storage").string());
    if (!opened) {
      spdlog::error("storage: {}", opened.error().message);
      return 1;
    }
    db = std::move(opened.value());
    if (cluster->is_mock()) {
      journal = std::make_unique<Journal>(*db, *cluster);
      auto replayed = journal->replay(std::chrono::seconds(30));
      if (!replayed) {
        spdlog::error("journal replay: {}", replayed.error().message);
        return 1;
      }
      if (replayed->tenants + replayed->adapters + replayed->dropped > 0)
        spdlog::info("journal: restored {} tenant/key records and {} adapters ({} interrupted "
                     "uploads marked failed, {} deletions completed)",
                     replayed->tenants, replayed->adapters, replayed->interrupted,
                     replayed->dropped);
      journal->start();
    }
  }

  asio::io_context io;
  gateway::GatewayOptions gw_options;
  gw_options.catalog = std::move(catalog.value());
  gw_options.host = options.host;
  gw_options.port = options.port;
  gw_options.admin_token = admin_token(data_dir);
  gw_options.tenant_max_inflight = options.tenant_max_inflight;
  gw_options.client_timeout = std::chrono::seconds(options.client_timeout_s);
  gw_options.max_uploads = options.max_uploads;
  gw_options.tenant_max_uploads = options.tenant_max_uploads;
  gw_options.max_body_bytes = options.max_request_bytes;
  gw_options.upstream.ensure_timeout = std::chrono::seconds(options.ensure_timeout_s);
  gateway::Gateway gw(io, *cluster, gw_options);
  try {
    gw.start();
  } catch (const std::exception& e) {
    spdlog::error("gateway failed to start on {}:{}: {}", options.host, options.port, e.what());
    return 1;
  }
  // `up` also runs a validate worker and one storage node; `gateway` runs the gateway alone.
  std::unique_ptr<distribute::DistributeWorker> storage_node;
  std::unique_ptr<validate::ValidateWorker> validate;
  std::unique_ptr<Fleet> fleet;
  if (all_roles) {
    validate = std::make_unique<validate::ValidateWorker>(*cluster, gw_options.catalog,
                                                         validate::ValidateOptions{});
    try {
      storage_node = start_storage_node(io, *cluster, *db, data_dir);
      validate->start();
      fleet = start_fleet(io, *cluster, gw_options.catalog, data_dir, options.sim_profile);
    } catch (const std::exception& e) {
      spdlog::error("workers failed to start: {}", e.what());
      return 1;
    }
  }

  asio::steady_timer ready_timer(io);
  report_ready_when_healthy(ready_timer, gw.port());

  // Stop in order: no new connections, let requests in flight finish (bounded), then stop the
  // workers, flush producers and journal what they wrote. A second signal cuts the drain short.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer drain_timer(io);
  const auto drain_deadline = std::make_shared<std::chrono::steady_clock::time_point>();
  // Requests still in flight when the drain is cut short stay suspended in the io_context, and
  // their frames hold guards into the gateway (router counts, admission slots, pooled upstream
  // connections): unwinding them after the gateway is gone would touch freed memory. Such a
  // stop ends the process once everything is flushed, without running those destructors.
  std::size_t cut = 0;
  std::function<void()> finish = [&] {
    cut = gw.open_connections();
    signals.cancel();
    drain_timer.cancel();
    gw.stop();
    if (validate) validate->stop();
    if (storage_node) storage_node->stop();
    if (fleet) fleet->stop();
    if (journal) journal->stop(std::chrono::seconds(10));
    io.stop();
  };
  // The embedded mode keeps no job across a restart (the mock cluster is in memory), so the
  // drain also lets the uploads answered 202 finish validating, within the same bound: none
  // comes back `interrupted` from a clean stop.
  bool waiting_for_uploads = false;
  std::function<void()> wait_drained = [&] {
    const auto open = gw.open_connections();
    const auto uploading = open == 0 && journal ? gw.uploads_in_flight() : 0;
    if ((open == 0 && uploading == 0) || std::chrono::steady_clock::now() >= *drain_deadline) {
      if (open > 0) spdlog::warn("drain: {} connections still open after {} s; closing", open,
                                 kDrainTimeout.count());
      if (uploading > 0)
        spdlog::warn("drain: {} uploads still validating after {} s; they will be marked "
                     "interrupted", uploading, kDrainTimeout.count());
      finish();
      return;
    }
    if (uploading > 0 && !waiting_for_uploads) {
      waiting_for_uploads = true;
      spdlog::info("drain: waiting for {} accepted uploads to finish validating", uploading);
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) wait_drained();
    });
  };
  std::function<void(boost::system::error_code, int)> on_signal =
      [&](boost::system::error_code ec, int signo) {
        if (ec) return;
        if (*drain_deadline != std::chrono::steady_clock::time_point{}) {
          spdlog::info("signal {} again: stopping now", signo);
          finish();
          return;
        }
        spdlog::info("signal {}: draining ({} connections open)", signo, gw.open_connections());
        *drain_deadline = std::chrono::steady_clock::now() + kDrainTimeout;
        ready_timer.cancel();
        gw.stop_accepting();
        signals.async_wait(on_signal);
        wait_drained();
      };
  signals.async_wait(on_signal);
  io.run();
  if (cut > 0) {
    spdlog::info("loraplane stopped ({} connections cut)", cut);
    spdlog::shutdown();
    std::fflush(nullptr);
    std::_Exit(0);
  }
  spdlog::info("loraplane stopped");
  return 0;
}

}  // namespace loraplane::cmd
