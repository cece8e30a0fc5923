// The distribute worker: one per storage node. It reads loraplane.adapters as a table (every
// node sees every adapter), copies each validated upload from loraplane.uploads into this
// node's blob store, reports `stored` to loraplane.jobs, releases the blobs of deleted adapters,
// and serves the blobs to agents over HTTP (GET/HEAD /internal/v1/blobs/{sha256}, ranges), with
// /healthz and /metrics on the same listener. See docs/lifecycle.md (step 3).
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/asio.hpp"
#include "common/http.hpp"
#include "common/kafka.hpp"
#include "storage/db.hpp"
#include "workers/distribute/syncer.hpp"

namespace loraplane::distribute {

struct BlobService;

struct DistributeOptions {
  std::string node_id;  // names this storage node in stored jobs; must be non-empty
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0 = any free port
  // Base of the advertised blob urls; empty = "http://<host>:<bound port>". Set it when the
  // listener binds a wildcard address or sits behind a proxy.
  std::string advertised_url;
  std::size_t max_blob_responses = 16;  // concurrent blob downloads; 503 + Retry-After beyond
  std::size_t read_threads = 2;         // blob-store reads of the HTTP side
  std::chrono::seconds gc_interval{60};
  std::int64_t gc_min_age_seconds = 300;
  std::chrono::milliseconds upload_read_timeout{30'000};  // idle bound of a chunk range read
};

class DistributeWorker {
 public:
  // The cluster, the Db and the io_context must outlive the worker.
  DistributeWorker(asio::io_context& io, const kafka::Cluster& cluster, storage::Db& db,
                   DistributeOptions options);
  ~DistributeWorker();
  DistributeWorker(const DistributeWorker&) = delete;
  DistributeWorker& operator=(const DistributeWorker&) = delete;

  // Binds the listener (throws on failure: a startup error), starts the table reader and the
  // sync thread, registers the "distribute" health role. Call once.
  void start();
  std::uint16_t port() const;
  // <advertised base>/internal/v1/blobs/<sha256>
  std::string blob_url(std::string_view sha256) const;
  // Listening, and the adapters table caught up and reconciled once.
  bool ready() const;
  // Stops the reader, the sync thread (finishing an adapter in progress) and the listener;
  // blob responses in progress finish. Idempotent; the destructor calls it.
  void stop();
  SyncStats stats() const;

 private:
  asio::io_context& io_;
  const kafka::Cluster& cluster_;
  storage::Db& db_;
  DistributeOptions options_;
  std::string base_url_;
  asio::thread_pool pool_;
  std::shared_ptr<BlobService> blobs_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<Syncer> syncer_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::atomic<bool> stopped_{false};
};

}  // namespace loraplane::distribute
