// The agent's state and policy, owned by its io_context's thread: every Entry is read and
// changed there only (Kafka events arrive by post). Coroutines hold the Core by shared_ptr.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/asio.hpp"
#include "common/kafka.hpp"
#include "schema/types.hpp"
#include "workers/agent/adapter_disk.hpp"
#include "workers/agent/agent.hpp"
#include "workers/agent/agent_metrics.hpp"
#include "workers/agent/engine_client.hpp"

namespace loraplane::agent {

using Clock = std::chrono::steady_clock;

// One hot-load in progress (fetch, then maybe engine load); later ensures wait on it.
struct LoadOp {
  explicit LoadOp(const asio::any_io_executor& ex) : signal(ex, Clock::time_point::max()) {}
  asio::steady_timer signal;  // cancelled when done: wakes every waiter
  bool done = false;
  bool ensure = false;  // an ensure (may evict); else a pre-warm (only uses a free slot)
  // The gateway's choice of what to evict for this ensure, first choice first (may be empty).
  std::vector<std::string> evict_order;
  Status result;
  bool engine_failed = false;  // the engine's load call failed (or timed out)
};

enum class Phase { idle, fetching, loading };

struct Entry {
  schema::LoadEvent info;
  bool on_disk = false;
  std::uint64_t disk_bytes = 0;
  bool registered = false;     // in the engine's /v1/models
  bool slot_reserved = false;  // counted against the slots while its engine load runs
  bool deleted = false;        // adapter.deleted seen; removed once no op runs
  Phase phase = Phase::idle;
  std::shared_ptr<LoadOp> op;
  double heat = 0;  // decayed count of ensures / engine requests
  Clock::time_point heat_at{};
  Clock::time_point last_used{};
  Clock::time_point held_until{};  // an ensure answered for it: not evicted before then
  // Requests for it running or waiting at the engine, as of the last poll of its metrics: its
  // files stay on disk even once unloaded, as vLLM loads them again for those requests.
  bool engine_busy = false;
  std::uint64_t changed_epoch = 0;  // registered flag last changed by the agent at this epoch
  std::string request_id;  // of the newest event about it (common/request_id.hpp), for logs
};

class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(asio::io_context& io, const kafka::Cluster& cluster, AgentOptions options);

  // Startup (any thread, before the io_context runs the core): the disk scan.
  Status recover_disk();
  void start_loops();  // posts the engine loop
  void shutdown();     // io thread: stop loops and publishing

  // Kafka consumer thread: makes the event durable in the catalog, then posts it.
  kafka::Handled on_message(const kafka::Message& message);
  // Kafka table-reader thread: a loraplane.adapters record (catalog only, no pre-warm).
  kafka::Handled on_state(const kafka::Message& message);

  // io thread.
  // `request_id`: the caller's (the gateway's inference request), for the lines it causes.
  // `evict_order`: the gateway router's eviction choice for this engine, coldest by its traffic
  // first; a load that needs room unloads the first of them that is registered and idle, and
  // only without one the coldest by the agent's own heat.
  awaitable<Status> ensure(std::string adapter_id, std::string request_id = {},
                           std::vector<std::string> evict_order = {});
  std::string lora_name(const std::string& adapter_id) const;

  const AgentOptions& options() const { return options_; }
  void set_url(std::string url) { agent_url_ = std::move(url); }
  void set_consumer_caught_up(std::function<bool()> fn) { caught_up_ = std::move(fn); }
  bool ready() const { return ready_.load(); }
  schema::Residency residency() const;

 private:
  void on_ready(schema::LoadEvent event, bool prewarm_it, std::string request_id);
  void on_deleted(const std::string& adapter_id, const std::string& request_id);
  // The request id of the newest event about the adapter ("" if none or unknown).
  std::string request_id_of(const std::string& adapter_id) const;
  Entry* find(const std::string& adapter_id);
  void touch(Entry& e, double weight = 1.0);
  double heat(const Entry& e, Clock::time_point now) const;
  std::size_t slots_used() const;
  // `idle_only`: also without requests at the engine (its files may go once it is unloaded).
  Entry* coldest_registered(const std::string& except, bool idle_only = false);
  // `st`; when it is a success, holds the adapter against eviction for options_.ensure_hold.
  Status held(const std::string& adapter_id, Status st);
  // The first of `order` that is registered, not loading or held and not `except`; nullptr if
  // none. `idle_only` as for coldest_registered.
  Entry* first_evictable(const std::vector<std::string>& order, const std::string& except,
                         bool idle_only = false);
  Entry* lru_on_disk(const std::string& except);
  void mark(Entry& e, bool registered);

  // core_load.cpp
  // `request_id`: what the op's lines carry (the ensure's caller, or the adapter's event).
  awaitable<Status> run_op(std::string adapter_id, bool ensure, std::string request_id,
                           std::vector<std::string> evict_order = {});
  awaitable<Status> hot_load(std::string adapter_id, bool ensure, std::string request_id);
  // `ensure`: a caller waits for it, so room on disk is waited for (bounded by slot_wait) and
  // made by unloading the coldest idle adapter if need be; a pre-warm takes only free room.
  awaitable<Status> fetch(std::string adapter_id, std::string request_id, bool ensure);
  awaitable<Status> disk_room(std::string adapter_id, std::uint64_t bytes, bool ensure);
  awaitable<void> make_durable(std::string adapter_id);
  std::uint64_t disk_used() const;  // on disk, plus downloads under way
  Status make_disk_room(const std::string& adapter_id, std::uint64_t bytes);
  awaitable<Status> reserve_slot(std::string adapter_id);
  // One round of a bounded wait (a slot, disk room): the refusal once the adapter is gone, the
  // agent stops or `give_up` has passed (`held`: what stayed busy); else a short sleep and
  // nullopt. The first round counts in `waits`.
  awaitable<std::optional<Status>> wait_step(std::string adapter_id, Clock::time_point give_up,
                                             bool& waited, prometheus::Counter& waits,
                                             std::string_view held);
  awaitable<void> evict(std::string adapter_id, std::string_view why);
  awaitable<void> remove(std::string adapter_id);
  awaitable<void> unload_orphan(std::string lora_name);
  awaitable<void> prewarm(std::string adapter_id);

  // core_sync.cpp
  awaitable<void> engine_loop();
  awaitable<Status> refresh_engine();
  // The engine's queue depth and the adapters it has requests for (engine_busy); `heat`: those
  // requests also warm their adapters (the poll's call; once per poll).
  awaitable<void> refresh_load(bool heat = true);
  void publish_soon();
  void publish();
  schema::Residency snapshot();

  void spawn(awaitable<void> work, const char* what);

  asio::io_context& io_;
  AgentOptions options_;
  AdapterDisk disk_;
  EngineClient engine_;
  AgentMetrics metrics_;
  std::unique_ptr<kafka::Producer> producer_;
  std::string agent_url_;
  std::function<bool()> caught_up_;

  std::map<std::string, Entry> adapters_;
  std::set<std::string> deleted_;    // never served again (ids are not reused)
  std::set<std::string> unloading_;  // orphan lora names being unloaded
  std::uint64_t epoch_ = 0;
  std::uint64_t disk_reserved_ = 0;  // bytes of downloads in progress
  int queue_depth_ = 0;
  bool engine_synced_ = false;
  bool engine_up_ = false;  // the last engine check answered
  bool publish_pending_ = false;
  bool stopping_ = false;
  asio::steady_timer poll_timer_;
  std::atomic<bool> ready_{false};

  mutable std::mutex snapshot_mu_;
  schema::Residency last_;
};

}  // namespace loraplane::agent
