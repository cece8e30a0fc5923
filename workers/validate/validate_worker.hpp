// The validate worker (docs/lifecycle.md): member of consumer group loraplane-validate on
// loraplane.jobs, and so the single writer of the adapter state of the tenants whose partitions
// it owns. Table readers of loraplane.adapters and loraplane.tenants give it every adapter and
// every tenant's tier; it takes jobs only once both have caught up. It also queues deletes for
// the adapters of deleted tenants (tenant_sweep.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/kafka.hpp"
#include "common/model_catalog.hpp"

namespace loraplane::validate {

struct ValidateOptions {
  std::string group_id = "loraplane-validate";
  std::string client_id = "loraplane-validate";
  // How long a job waits for its adapter's (or tenant's) record to reach the table readers:
  // the two topics are read apart.
  std::chrono::milliseconds state_wait{10000};
  // The gateway writes an upload's or import's job before its pending record, and answers 202
  // only once both are acked; it gives up on the record after its 30 s delivery timeout. So a
  // job made in the last `new_adapter_window` waits up to `new_adapter_wait` for its record;
  // without one by then, its gateway failed before answering, and the job is dropped (the
  // adapter never existed). Older jobs (replays) wait `state_wait`.
  std::chrono::milliseconds new_adapter_wait{40000};
  std::chrono::milliseconds new_adapter_window{75000};
  // read_range gives up on an upload's chunks after this long without a message (then the job
  // is retried).
  std::chrono::milliseconds chunk_idle_timeout{30000};
  // Longest wait for one delivery report (the producer's own delivery timeout is 30 s).
  std::chrono::milliseconds produce_timeout{35000};
  // Group failover bound after a crash (ConsumerOptions::session_timeout).
  std::chrono::milliseconds session_timeout{45000};
  // Failed adapters kept per tenant, newest first. They count against no quota but live in
  // the compacted state topic and every reader's view: beyond this many, a new failure deletes
  // the tenant's oldest failed adapter (its name is free again).
  std::size_t max_failed_per_tenant = 100;
  // Jobs handled at once, each of another partition of loraplane.jobs, so one tenant's long
  // job (a slow Hub import, a 500 MB validation) holds up only the tenants of its partition,
  // never the whole worker. A tenant's jobs stay in order: they share a partition (the key is
  // the tenant id). More lanes than the worker's partitions (8 in all) add nothing. Each lane
  // re-reads at most one upload at a time (≤ 48 MiB buffered).
  std::size_t job_lanes = 8;
};

class JobHandler;
class AdapterView;
class TenantTiers;
class StateWriter;

class ValidateWorker {
 public:
  // `cluster` and `catalog` must outlive the worker.
  ValidateWorker(const kafka::Cluster& cluster, const ModelCatalog& catalog,
                 ValidateOptions options);
  ~ValidateWorker();
  ValidateWorker(const ValidateWorker&) = delete;
  ValidateWorker& operator=(const ValidateWorker&) = delete;

  // Starts the table readers and, on a background thread once they have caught up, the job
  // consumer. Returns at once; throws if the readers cannot start (missing topics).
  void start();
  // True once the readers caught up and the job consumer was started.
  bool ready() const { return ready_.load(); }
  // Stops taking jobs (the job in hand finishes first; one waiting for a record is left for the
  // next owner), then the readers. Idempotent; a stopped worker does not start again.
  void stop();

 private:
  void start_jobs_when_caught_up();
  // Deleted tenants to sweep (tenant_sweep.hpp), served in order on the starter thread once the
  // jobs are taken; a sweep Kafka refused is queued again, until stop(). A tenant already
  // waiting in the queue is not queued twice: its sweep reads the view when it runs.
  void queue_sweep(std::string tenant_id, std::string request_id);
  void add_sweep(std::string tenant_id, std::string request_id);  // holding sweep_mutex_
  void serve_sweeps();
  // True once the tenant's adapter deletes are acknowledged (or none were left).
  bool sweep(const std::string& tenant_id, const std::string& request_id);
  // Once, as the jobs are taken: a delete job for every adapter a crash or a Kafka error left
  // `deleting` (tenant_sweep.hpp), a few attempts while Kafka refuses.
  void finish_unfinished_deletes();

  const kafka::Cluster& cluster_;
  const ModelCatalog& catalog_;
  ValidateOptions options_;
  std::unique_ptr<AdapterView> adapters_;
  std::unique_ptr<TenantTiers> tenants_;
  std::unique_ptr<kafka::Producer> producer_;
  // A handler per lane of the job consumer (common/kafka_lanes.hpp); each writer carries the
  // request id of its lane's job.
  struct Lane {
    std::unique_ptr<StateWriter> writer;
    std::unique_ptr<JobHandler> handler;
  };
  std::vector<Lane> lanes_;
  std::unique_ptr<kafka::Consumer> adapter_reader_;
  std::unique_ptr<kafka::Consumer> tenant_reader_;
  std::unique_ptr<kafka::Consumer> jobs_;
  std::mutex jobs_mutex_;  // guards jobs_ between the starter thread and stop()
  std::thread starter_;
  std::atomic<bool> ready_{false};
  // Set once the views caught up: from then on the tenant reader queues a sweep for each
  // deletion it reads (the ones read before are queued by the starter thread), and the adapters
  // reader one for each live adapter of a deleted tenant it reads.
  std::atomic<bool> sweeping_{false};
  std::mutex sweep_mutex_;
  std::condition_variable sweep_wanted_;
  std::deque<std::pair<std::string, std::string>> sweeps_;  // tenant id, request id
  std::atomic<bool> stopping_{false};
};

}  // namespace loraplane::validate
