// A storage node under test: the embedded mock cluster with loraplane's topics, a temp RocksDB
// (small blob chunks so reads cross chunk boundaries), an io_context thread, a reader that
// collects the jobs the worker sends, and helpers that play the gateway and validate worker.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/asio.hpp"
#include "common/kafka.hpp"
#include "schema/types.hpp"
#include "storage/db.hpp"
#include "test/support/http_client.hpp"
#include "test/support/process.hpp"
#include "workers/distribute/distribute_worker.hpp"

namespace loraplane::distribute::test {

inline constexpr std::uint32_t kBlobChunk = 1'000'000;  // not a multiple of the 1 MiB uploads
inline constexpr std::size_t kUploadChunk = 1024 * 1024;

struct Upload {
  std::string bytes;
  std::string sha256;
  schema::UploadLocation location;
};

// Deterministic bytes.
std::string make_bytes(std::size_t n, std::uint64_t seed);

class Fixture {
 public:
  Fixture();  // on the embedded mock cluster
  explicit Fixture(std::unique_ptr<kafka::Cluster> cluster);
  ~Fixture();

  DistributeWorker& start_worker(DistributeOptions options = default_options());
  void stop_worker();
  static DistributeOptions default_options();

  // Writes `bytes` to loraplane.uploads in 1 MiB chunks as the gateway does; with `noise`, a
  // chunk of another upload in the same partition and a repeated chunk lie in the range.
  Upload produce_upload(const std::string& upload_id, std::string bytes, bool noise = true);
  void produce_state(const schema::AdapterState& state);
  void produce_tombstone(const std::string& adapter_id);
  static schema::AdapterState validated_state(const std::string& adapter_id, const Upload& upload,
                                              std::uint64_t seq);

  std::vector<schema::Job> stored_jobs(const std::string& adapter_id) const;
  // Polls `done` every 20 ms for at most `limit`.
  static bool wait_for(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(60));

  loraplane::test::HttpResult get(const std::string& target,
                                  const std::map<std::string, std::string>& headers = {});
  // HEAD needs a parser that expects no body after Content-Length.
  loraplane::test::HttpResult head(const std::string& target);
  static std::string blob_target(const std::string& sha256);

  storage::Db& db() { return *db_; }
  // For a second storage node on the same cluster and io thread.
  const kafka::Cluster& cluster() const { return *cluster_; }
  asio::io_context& io() { return io_; }
  // Before start_worker: the node's database becomes wrap(current one), for tests that
  // intercept calls to it.
  using DbWrap = std::function<std::unique_ptr<storage::Db>(std::unique_ptr<storage::Db>)>;
  void wrap_db(const DbWrap& wrap) { db_ = wrap(std::move(db_)); }
  DistributeWorker& worker() { return *worker_; }

 private:
  loraplane::test::TempDir dir_;
  std::unique_ptr<kafka::Cluster> cluster_;
  std::unique_ptr<storage::Db> db_;
  asio::io_context io_;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread io_thread_;
  std::unique_ptr<kafka::Producer> producer_;
  mutable std::mutex jobs_mu_;
  std::vector<schema::Job> jobs_;
  std::unique_ptr<kafka::Consumer> jobs_reader_;
  std::unique_ptr<DistributeWorker> worker_;
};

}  // namespace loraplane::distribute::test
