#include "workers/distribute/distribute_worker.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "common/health.hpp"
#include "common/ops_routes.hpp"
#include "workers/distribute/blob_http.hpp"

namespace loraplane::distribute {

namespace {

constexpr std::string_view kRole = "distribute";

}  // namespace

DistributeWorker::DistributeWorker(asio::io_context& io, const kafka::Cluster& cluster,
                                   storage::Db& db, DistributeOptions options)
    : io_(io),
      cluster_(cluster),
      db_(db),
      options_(std::move(options)),
      pool_(options_.read_threads == 0 ? 1 : options_.read_threads),
      blobs_(std::make_shared<BlobService>(db.blobs(), pool_,
                                           BlobServiceOptions{options_.max_blob_responses})) {
  if (options_.node_id.empty()) throw std::invalid_argument("distribute: node_id is required");
}

DistributeWorker::~DistributeWorker() {
  stop();
  // No blob read may start or still run once the store can go away.
  blobs_->gate.close();
  pool_.join();
  consumer_.reset();  // before the syncer its handler calls
  syncer_.reset();
  producer_.reset();
  server_.reset();
}

void DistributeWorker::start() {
  health::register_role(std::string(kRole));
  health::set_ready(std::string(kRole), false);
  http::Router router;
  add_blob_routes(router, blobs_);
  http::add_ops_routes(router);
  http::ServerOptions server_options;
  server_options.role = std::string(kRole);
  server_options.host = options_.host;
  server_options.port = options_.port;
  server_options.max_body_bytes = std::size_t{64} * 1024;  // no route here takes a body
  server_ = std::make_unique<http::Server>(io_, server_options, std::move(router));
  server_->start();
  base_url_ = options_.advertised_url.empty()
                  ? "http://" + options_.host + ":" + std::to_string(server_->port())
                  : options_.advertised_url;
  while (base_url_.ends_with('/')) base_url_.pop_back();

  kafka::ProducerOptions producer_options;
  producer_options.client_id = "loraplane-distribute-" + options_.node_id;
  producer_ = kafka::Producer::create(cluster_, producer_options);
  SyncOptions sync;
  sync.node_id = options_.node_id;
  sync.blob_base_url = base_url_;
  sync.gc_interval = options_.gc_interval;
  sync.gc_min_age_seconds = options_.gc_min_age_seconds;
  sync.read_idle_timeout = options_.upload_read_timeout;
  sync.on_ready = [] { health::set_ready(std::string(kRole), true); };
  syncer_ = std::make_unique<Syncer>(cluster_, db_, *producer_, sync);

  kafka::ConsumerOptions reader;
  reader.client_id = "loraplane-distribute-" + options_.node_id;
  reader.topics = {std::string(kafka::kAdapters)};  // no group: a table reader
  Syncer* syncer = syncer_.get();
  consumer_ = kafka::Consumer::start(
      cluster_, reader, [syncer](const kafka::Message& m) { return syncer->on_record(m); });
  kafka::Consumer* consumer = consumer_.get();
  if (auto st = syncer_->start([consumer] { return consumer->caught_up(); }); !st)
    throw std::runtime_error("distribute: loading blob references: " + st.error().message);
  spdlog::info("distribute {}: serving blobs at {}", options_.node_id, base_url_);
}

std::uint16_t DistributeWorker::port() const { return server_ ? server_->port() : 0; }

std::string DistributeWorker::blob_url(std::string_view sha256) const {
  return syncer_ ? syncer_->blob_url(sha256) : std::string();
}

bool DistributeWorker::ready() const {
  return server_ && !stopped_.load() && syncer_ && syncer_->ready();
}

void DistributeWorker::stop() {
  if (stopped_.exchange(true)) return;
  if (consumer_) consumer_->stop();
  if (syncer_) syncer_->stop();
  if (server_) server_->stop();
  if (producer_ && !producer_->flush(std::chrono::seconds(10)))
    spdlog::warn("distribute {}: producer not flushed within 10 s", options_.node_id);
  health::set_ready(std::string(kRole), false);
}

SyncStats DistributeWorker::stats() const { return syncer_ ? syncer_->stats() : SyncStats{}; }

}  // namespace loraplane::distribute
