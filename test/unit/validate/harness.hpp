// One embedded mock cluster and one validate worker shared by every case (the mock's first
// group join takes seconds), plus what a test needs around them: a producer that writes tenants,
// upload chunks, pending records and jobs as the gateway does, and table readers that record
// every loraplane.adapters record and load event the worker writes.
#pragma once

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/kafka.hpp"
#include "common/model_catalog.hpp"
#include "schema/types.hpp"
#include "workers/validate/validate_worker.hpp"

namespace loraplane::validate::testing {

inline constexpr std::size_t kChunkBytes = 1024 * 1024;  // as the gateway sends them
inline constexpr std::size_t kMaxFailed = 8;  // the worker's max_failed_per_tenant

// An upload as the gateway would describe it in its job; tests alter fields to lie.
struct UploadSpec {
  std::string bytes;
  std::size_t chunk_bytes = kChunkBytes;
  std::optional<std::string> config;
  std::optional<double> lora_alpha;
  std::optional<std::string> sha256;  // override what the job claims
  std::vector<std::uint32_t> repeat;  // chunk indexes sent twice
};

struct Sent {
  std::string adapter_id;
  schema::Job job;
};

class Harness {
 public:
  static Harness& get();
  static void destroy();
  ~Harness();

  const kafka::Cluster& cluster() const { return *cluster_; }
  // Stops the worker and starts a new one, which rebuilds its view from the topics before it
  // takes jobs (and rejoins the group: seconds on the mock cluster). `while_stopped` runs
  // between the two, when no worker is running.
  void restart_worker(const std::function<void()>& while_stopped = {});

  void put_tenant(const std::string& tenant_id, schema::Tier tier, bool deleted = false);
  // Writes a state record directly (a prior adapter of the tenant).
  void put_state(const schema::AdapterState& state);
  // Chunks → upload job → pending record (seq 1), like POST /v1/adapters/upload.
  Sent upload(const std::string& tenant_id, const std::string& name, const UploadSpec& spec,
              const std::string& base_model = "toy-llama");
  // An import job and its pending adapter, in that order.
  Sent import(const std::string& tenant_id, const std::string& name);
  void send_job(const schema::Job& job);
  schema::Job job_for(const Sent& sent, schema::JobKind kind) const;

  // The newest record of the adapter (highest seq) once `ready(state)` holds; fails the test
  // on timeout.
  schema::AdapterState wait_state(const std::string& adapter_id,
                                  const std::function<bool(const schema::AdapterState&)>& ready);
  schema::AdapterState wait_status(const std::string& adapter_id, schema::AdapterStatus status);
  bool wait_tombstone(const std::string& adapter_id);
  bool tombstoned(const std::string& adapter_id) const;  // seen so far, without waiting
  std::vector<schema::AdapterState> history(const std::string& adapter_id) const;
  std::vector<schema::LoadEvent> events(const std::string& adapter_id) const;
  std::vector<schema::LoadEvent> wait_events(const std::string& adapter_id, std::size_t count);

 private:
  Harness();
  void produce(std::string_view topic, const std::string& key,
               const std::optional<std::string>& value, std::vector<kafka::Header> headers = {},
               kafka::Delivered* where = nullptr);
  bool wait(const std::function<bool()>& done);
  void start_worker();

  std::unique_ptr<kafka::Cluster> cluster_;
  ModelCatalog catalog_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<ValidateWorker> worker_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::vector<schema::AdapterState>> states_;
  std::map<std::string, bool> tombstoned_;
  std::map<std::string, std::vector<schema::LoadEvent>> events_;
  std::unique_ptr<kafka::Consumer> adapter_reader_;
  std::unique_ptr<kafka::Consumer> event_reader_;
};

std::string unique_id(const std::string& prefix);

// What the suite runs against, defined by each executable's main.cpp: the embedded mock cluster
// (unit) or the broker named by LORAPLANE_KAFKA (integration).
struct TestCluster {
  static bool available();  // false: the suites are skipped, saying why on stdout
  static std::unique_ptr<kafka::Cluster> make();
  static std::string group_id();  // the worker's consumer group
};

// Precondition of every suite that needs the harness.
struct ClusterGiven {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    return TestCluster::available();
  }
};

}  // namespace loraplane::validate::testing
