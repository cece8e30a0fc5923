// Entry points of the sub-commands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace loraplane::cmd {

struct UpOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string data_dir = "loraplane-data";
  std::string kafka;  // empty: embedded mock cluster
  std::string models;  // base-model catalog (ops/models.json)
  int tenant_max_inflight = 0;  // > 0: per-tenant inference bound for every tier
  std::string sim_profile = "realistic";  // simulated engines: realistic | instant
  int client_timeout_s = 30;     // gateway: header within this, body reads within twice this
  std::size_t max_uploads = 16;  // gateway: uploads in progress (beyond: 503)
  std::size_t tenant_max_uploads = 4;  // gateway: uploads in progress per tenant (beyond: 429)
  // gateway: JSON request bodies (inference, imports, admin); uploads have their own limit.
  std::size_t max_request_bytes = std::size_t{4} << 20;
  int ensure_timeout_s = 90;  // gateway: an agent's ensure (load on a miss), answer included
};

// The validate worker's listener (/healthz, /metrics) when --port is not given: beside the
// storage node's 7070 and the agent's 7080 of docs/deployment.md.
inline constexpr std::uint16_t kValidatePort = 7090;

struct WorkerOptions {
  std::string kafka;
  std::string data_dir = "loraplane-data";
  std::string node_id = "storage-0";
  std::uint16_t port = 0;           // validate: kValidatePort unless given
  std::string host = "127.0.0.1";  // listen address
  std::string advertise_url;       // how others reach this node; empty: http://host:port
  std::string models;
  int session_timeout_ms = 45000;  // validate, agent: consumer group failover after a crash
  std::size_t job_lanes = 8;  // validate: jobs at once, of different partitions (kafka_lanes.hpp)
  // agent
  std::string engine;  // engine base URL
  std::string base;    // base model
  std::string engine_id;
  std::size_t max_loras = 8;
  std::uint64_t disk_budget_mb = 20000;
};

// Logging for the whole process (`role` names lines logged outside any role's context), and
// the open files limit (raise_open_files_limit).
void init(const std::string& log_level, bool log_json, const std::string& role);
// The soft limit of open files raised to the hard one (at most 2^20); a warning if it cannot be.
void raise_open_files_limit();
// Runs until SIGINT/SIGTERM; returns the process exit code.
int run_up(const UpOptions& options, bool all_roles);
// `worker --role validate|distribute|agent` against a real cluster, until SIGINT/SIGTERM.
int run_worker(const std::string& role, const WorkerOptions& options);

}  // namespace loraplane::cmd
