// Test harness: a loraplane deployment with every role in its own process, as in production
// (docs/deployment.md): gateways, validate workers, storage nodes (distribute workers), simulated
// engines and their agents, on a real Kafka broker under a topic prefix of their own (so suites
// sharing the broker never see each other's records). Any role can be killed with SIGKILL and
// started again with the same flags, data dir and port. A PrivateBroker is a broker of the
// test's own (ops/kafka/start in a temp dir) that can itself be killed and restarted on the same
// data and port. Plus the client calls the tests make: tenants, uploads, imports, listings, the
// fleet view, blobs.
//
// Everything here throws std::runtime_error on a setup failure (with the role's output) and
// never uses Boost.Test, so benchmarks and tools can use it too.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "test/support/multipart_body.hpp"
#include "test/support/process.hpp"

namespace loraplane::test {

// One answer of a blocking HTTP call; status 0 when there was none (refused, reset, timed out),
// with the reason in `error`.
struct Answer {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
  std::string error;
  bool answered() const { return status != 0; }
};

Answer call(std::uint16_t port, const std::string& method, const std::string& target,
            const std::string& body = {}, const std::map<std::string, std::string>& headers = {},
            std::chrono::milliseconds timeout = std::chrono::seconds(60));
// A loopback port nobody listens on right now (bound once and released), below the kernel's
// ephemeral range so that it is still free when a killed role starts again.
std::uint16_t free_port();

enum class RoleKind { gateway, validate, storage, engine, agent };

// One role process: its flags, port and data dir stay the same across restarts.
class Role {
 public:
  Role(std::string name, RoleKind kind, std::vector<std::string> argv,
       std::vector<std::string> env, std::uint16_t port, std::string ready_line);
  ~Role();
  Role(const Role&) = delete;
  Role& operator=(const Role&) = delete;

  const std::string& name() const { return name_; }
  RoleKind kind() const { return kind_; }
  std::uint16_t port() const { return port_; }  // a validate worker's: /healthz, /metrics
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Spawns the process; wait_ready() waits for its ready line (throws with its output if it
  // exits or times out first). start() does both.
  void spawn();
  void wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(120));
  void start(std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    spawn();
    wait_ready(timeout);
  }
  void kill();                                    // SIGKILL, no goodbye
  void stop();                                    // SIGTERM, the clean stop
  void restart() { kill(); start(); }
  bool running();
  int starts() const { return starts_; }
  // Waits until this incarnation has written a line containing `needle`.
  std::optional<std::string> wait_for_line(const std::string& needle,
                                           std::chrono::milliseconds timeout);
  // What every incarnation printed.
  std::string logs() const;

 private:
  std::string name_;
  RoleKind kind_;
  std::vector<std::string> argv_;
  std::vector<std::string> env_;
  std::uint16_t port_;
  std::string ready_line_;
  std::unique_ptr<Process> process_;
  mutable std::mutex mutex_;
  std::vector<std::string> past_logs_;
  int starts_ = 0;
};

struct ClusterOptions {
  std::string kafka;              // bootstrap servers
  std::vector<std::string> env;   // extra environment of every role (e.g. HF_ENDPOINT=...)
  std::string admin_token = "cluster-admin-token-8642";
  // Consumer-group session timeout of validate workers and agents: how long a killed member
  // keeps its partitions (6 s is the broker's smallest).
  int session_timeout_ms = 6000;
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options);  // a fresh topic prefix and data dir; starts nothing
  ~Cluster();  // SIGTERM to every role: workers and engines at once, then the gateways
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Roles are added stopped; start_all() starts every role not running, in parallel.
  Role& add_gateway();
  Role& add_validate();
  Role& add_storage();
  // A simulated engine (instant profile) for `base`; add_agent puts an agent beside it.
  Role& add_engine(const std::string& base = "toy-llama", int max_loras = 4);
  Role& add_agent(const Role& engine, const std::string& base = "toy-llama", int max_loras = 4);
  void start_all(std::chrono::milliseconds timeout = std::chrono::seconds(180));

  std::vector<Role*> roles(RoleKind kind) const;
  Role& role(const std::string& name) const;
  const std::string& prefix() const { return prefix_; }
  const std::string& dir() const { return dir_.path(); }
  const std::string& admin_token() const { return options_.admin_token; }
  // Every role's output, for failure messages.
  std::string logs() const;

 private:
  Role& add(std::string name, RoleKind kind, std::vector<std::string> args,
            std::uint16_t port, std::string ready_line);
  ClusterOptions options_;
  TempDir dir_;
  std::string prefix_;
  std::vector<std::unique_ptr<Role>> roles_;
  std::map<RoleKind, int> counts_;
};

// A broker of the test's own: ops/kafka/start in a temp dir ($LORAPLANE_SOURCE_DIR/ops/kafka),
// killable with SIGKILL and restartable on the same data and port.
class PrivateBroker {
 public:
  PrivateBroker();   // throws when the broker does not start
  ~PrivateBroker();  // ops/kafka/stop: stops it and removes the dir
  PrivateBroker(const PrivateBroker&) = delete;
  PrivateBroker& operator=(const PrivateBroker&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  void kill();     // SIGKILL to the JVM; returns once it is gone
  void restart();  // the same command line (same data and ports); returns once it serves
  int restarts() const { return restarts_; }

 private:
  std::string source_dir_;
  std::string dir_;
  std::string bootstrap_;
  int pid_ = -1;
  std::vector<std::string> argv_;  // of the JVM, read from /proc before the kill
  std::unique_ptr<Process> restarted_;
  int restarts_ = 0;
};

// ---- client calls ------------------------------------------------------------------------

std::map<std::string, std::string> bearer(const std::string& token);
// Parses a JSON object; throws with the body when it is not one.
boost::json::object json_object(const std::string& body);

struct TenantKey {
  std::string id;
  std::string key;
};
TenantKey create_tenant(std::uint16_t gateway, const std::string& admin_token,
                        const std::string& name, const std::string& tier);

Answer upload(std::uint16_t gateway, const std::string& key, const FormFields& fields,
              const std::string& file, std::chrono::milliseconds timeout = std::chrono::seconds(60));
Answer import_repo(std::uint16_t gateway, const std::string& key, const std::string& name,
                   const std::string& base, const std::string& repo,
                   std::chrono::milliseconds timeout = std::chrono::seconds(60));
// Every adapter of the tenant (GET /v1/adapters, all pages); throws on a non-200.
std::vector<boost::json::object> list_adapters(std::uint16_t gateway, const std::string& key);
// Polls GET /v1/adapters/{id} until ready or failed (or the timeout); returns the last body.
boost::json::object settle(std::uint16_t gateway, const std::string& key, const std::string& id,
                           std::chrono::milliseconds timeout = std::chrono::seconds(120));
// GET /admin/v1/engines → "data".
boost::json::array engines(std::uint16_t gateway, const std::string& admin_token);
// The adapter LoRA names ("<base>:<adapter id>") an engine lists in /v1/models.
std::vector<std::string> engine_loras(std::uint16_t engine);
// sha256 of the blob a storage node serves, or nullopt when it does not have it (404).
std::optional<std::string> stored_sha256(std::uint16_t storage, const std::string& sha256);

// Polls `check` (which returns "" when satisfied, else what is still missing) every 250 ms until
// it holds or the timeout passes; returns "" or what was missing at the last poll.
std::string eventually(const std::function<std::string()>& check,
                       std::chrono::seconds timeout = std::chrono::seconds(90));

// A valid toy-llama adapter (layer 0 q_proj at `rank`); `seed` gives each its own sha256. With
// `dim` 4096, one of llama-3.1-8b-instruct.
std::string toy_adapter_file(int rank, std::uint32_t seed, int dim = 64);
inline const std::string kToyConfig =
    R"({"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":["q_proj"]})";

}  // namespace loraplane::test
