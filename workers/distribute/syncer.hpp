// The storage node's reconciliation loop. The loraplane.adapters table reader hands every
// record to on_record (its own thread; cheap: parse and queue). One sync thread then brings the
// node in line with the newest state of each queued adapter: copy an upload into the blob store
// and hold a reference for it as soon as validation starts (so that the copy overlaps it),
// report `stored` to loraplane.jobs once it is validated; release the
// reference of a deleting, failed or tombstoned adapter. It starts only once the reader has
// caught up, so a restarted node acts on each adapter's newest record once, and then also
// revisits every reference it holds (adapters deleted and compacted away while it was down).
// A second thread runs the periodic blob GC, from the same point on: its compactions can rewrite
// gigabytes of live chunks, and a copy (an adapter on its way to ready) must not wait for them.
// The blob store keeps the two apart (storage/blob_store_impl.hpp): a blob being written is
// never swept, and a reference to a blob GC deleted meanwhile is refused, so that copy retries.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "common/kafka.hpp"
#include "storage/db.hpp"
#include "workers/distribute/ref_index.hpp"
#include "workers/distribute/sync_state.hpp"

namespace loraplane::distribute {

struct SyncOptions {
  std::string node_id;
  std::string blob_base_url;  // "http://host:port"; blob urls are <base>/internal/v1/blobs/<sha>
  std::chrono::seconds gc_interval{60};
  std::int64_t gc_min_age_seconds = 300;
  std::chrono::milliseconds read_idle_timeout{30'000};  // range read of an upload
  std::chrono::milliseconds produce_timeout{45'000};    // waiting for a stored job's ack
  std::chrono::milliseconds min_retry_delay{500};
  std::chrono::milliseconds max_retry_delay{30'000};
  std::function<void()> on_ready;  // once, on the sync thread, when ready() turns true
};

// Counts since this Syncer started (tests and diagnosis; Prometheus has the process totals).
struct SyncStats {
  std::uint64_t copied = 0;    // blobs written from loraplane.uploads
  std::uint64_t reused = 0;    // references added to a blob the store already held
  std::uint64_t reported = 0;  // stored jobs acknowledged
  std::uint64_t removed = 0;   // references released
  std::uint64_t retried = 0;   // transient failures, queued again
  std::uint64_t gave_up = 0;   // permanent failures (corrupt or expired upload)
};

class Syncer {
 public:
  Syncer(const kafka::Cluster& cluster, storage::Db& db, kafka::Producer& producer,
         SyncOptions options);
  ~Syncer();
  Syncer(const Syncer&) = delete;
  Syncer& operator=(const Syncer&) = delete;

  // The table reader's handler. Never blocks on I/O; malformed records are logged and skipped.
  kafka::Handled on_record(const kafka::Message& message);
  // Loads the reference index and starts the sync thread, which waits for `caught_up`.
  Status start(std::function<bool()> caught_up);
  void stop();  // idempotent; an adapter being copied is finished first
  // True once the reader caught up and every adapter then known was handled once.
  bool ready() const { return ready_.load(); }
  SyncStats stats() const;
  std::string blob_url(std::string_view sha256) const;

 private:
  enum class Step { done, retry, give_up };

  void run();
  void run_gc();
  bool wait_caught_up();
  void process(const std::string& adapter_id);
  void schedule_retry(const std::string& adapter_id);
  void collect_garbage();
  void update_size_gauge();

  // adapter_sync.cpp: one adapter's reconciliation, on the sync thread.
  Step reconcile(const std::string& adapter_id, const std::optional<schema::AdapterState>& state);
  Step keep(const std::string& adapter_id, const schema::AdapterState& state);
  Step hold_blob(const std::string& adapter_id, const schema::AdapterState& state);
  Step report(const std::string& adapter_id, const schema::AdapterState& state);
  Step drop(const std::string& adapter_id);

  const kafka::Cluster& cluster_;
  storage::Db& db_;
  kafka::Producer& producer_;
  SyncOptions options_;

  // Shared with the reader thread.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  AdapterTable table_;
  // The request id (common/request_id.hpp) of each adapter's newest record, for its log lines
  // and for the stored job it causes.
  std::map<std::string, std::string, std::less<>> request_ids_;
  WorkQueue queue_;
  bool stopping_ = false;
  bool caught_up_seen_ = false;  // the sync thread passed wait_caught_up(): GC may start
  std::condition_variable gc_cv_;
  std::atomic<bool> gc_stop_{false};  // set by stop(): a GC under way is cut short

  // Sync thread only.
  RefIndex refs_;
  std::string request_id_;  // of the record being reconciled
  std::function<bool()> caught_up_;
  std::set<std::string, std::less<>> reported_;                // stored sent by this process
  std::set<std::string, std::less<>> confirmed_;               // refs (re-)added by this process
  std::map<std::string, int, std::less<>> attempts_;           // consecutive transient failures
  std::map<std::string, std::uint64_t, std::less<>> gave_up_;  // adapter → seq given up on

  std::atomic<bool> ready_{false};
  struct Counters {
    std::atomic<std::uint64_t> copied{0}, reused{0}, reported{0}, removed{0}, retried{0},
        gave_up{0};
  } counters_;
  std::thread thread_;
  std::thread gc_thread_;
};

}  // namespace loraplane::distribute
