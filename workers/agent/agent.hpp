// The per-engine agent (`loraplane worker --role agent`): it runs beside one vLLM engine (or the
// simulator), learns adapters of its base model from loraplane.load-events (a consumer group of
// its own, so every agent sees every event), pre-fetches their blobs from storage nodes into
// <data-dir>/adapters/<id> (sha256 verified, atomic rename, disk budget with LRU removal),
// registers them into the engine through vLLM's runtime LoRA API by policy (the hottest by
// recent ensure/request rate, within max-loras), serves POST /internal/v1/ensure to gateways,
// removes adapters on adapter.deleted, and publishes schema::Residency to loraplane.residency on
// every change and every second. Its view is rebuilt at start from the engine's /v1/models and
// the files on disk (and the loraplane.adapters table), and re-checked against the engine
// continuously (an engine restart drops every adapter; the next ensure loads again).
//
// Wiring: construct on an io_context (may be shared with other roles), start(), stop() before
// the io_context stops. The cluster and the io_context must outlive the agent.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/asio.hpp"
#include "common/kafka.hpp"
#include "schema/types.hpp"

namespace loraplane::http {
class Server;
}

namespace loraplane::agent {

struct AgentOptions {
  std::string engine_url;  // the engine's OpenAI server, "http://127.0.0.1:8000"
  std::string base_model;  // the one base model the engine serves
  std::string engine_id;   // residency key; empty: "<base>@<engine host:port>"
  std::string data_dir = "loraplane-agent";
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;         // 0 = any free port
  std::string advertised_url;     // empty: "http://<host>:<bound port>"
  std::size_t max_loras = 8;      // GPU slots: the hottest registered adapters count as gpu
  std::size_t max_cpu_loras = 0;  // adapters registered at once; 0 = max_loras
  std::uint64_t disk_budget_bytes = 20'000'000'000;
  std::chrono::milliseconds poll_interval{1000};        // engine check + residency heartbeat
  std::chrono::milliseconds session_timeout{45000};     // load-events consumer group
  std::chrono::milliseconds engine_timeout{120000};     // one engine call (a load reads the files)
  std::chrono::milliseconds fetch_idle_timeout{30000};  // a blob download making no progress
  // An ensure that finds every slot taken by loads in progress waits this long for one of them
  // to finish (and become evictable) before answering 503; likewise for the disk budget when
  // downloads and loads in progress hold it.
  std::chrono::milliseconds slot_wait{30000};
  // An adapter an ensure has just answered for is not evicted for this long: its caller's
  // request is on its way to the engine, and evicting it now would answer that request 404.
  // Once there the request keeps its adapter (vLLM checks `model` on arrival; unload only
  // drops the name), however long it waits for the batch: the hold need only cover the trip.
  std::chrono::milliseconds ensure_hold{200};
  std::chrono::seconds heat_half_life{60};              // recency weight of the hotness policy
  bool register_health = true;                          // role "agent:<engine id>" in /healthz
  // Also read the compacted loraplane.adapters table: adapters that became ready before this
  // agent's first start (load events are kept one day) are known too, fetched on demand.
  bool read_adapters_table = true;

  std::size_t slots() const { return max_cpu_loras > max_loras ? max_cpu_loras : max_loras; }
};

class Core;

class Agent {
 public:
  Agent(asio::io_context& io, const kafka::Cluster& cluster, AgentOptions options);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Prepares the data dir (reads the catalog and the adapter dirs), binds the listener, starts
  // the load-events consumer and the engine loop. Throws on bad options or bind/dir failure.
  void start();
  // Stops consuming, serving and publishing. Idempotent; safe from any thread.
  void stop();

  std::uint16_t port() const;
  std::string url() const;  // advertised base URL of the ensure endpoint
  const std::string& engine_id() const;
  // Engine view synced once and load-events read up to where they were at start.
  bool ready() const;
  // The residency as last computed (thread-safe copy).
  schema::Residency residency() const;

 private:
  asio::io_context& io_;
  const kafka::Cluster& cluster_;
  std::shared_ptr<Core> core_;
  std::unique_ptr<http::Server> server_;
  // Shared so that the core's caught-up check (run on the io thread, possibly after ~Agent
  // started) holds a consumer only through a weak_ptr it locks: never a dangling pointer.
  std::shared_ptr<kafka::Consumer> consumer_;
  std::shared_ptr<kafka::Consumer> table_reader_;
  std::string url_;
  std::atomic<bool> stopped_{false};
};

}  // namespace loraplane::agent
