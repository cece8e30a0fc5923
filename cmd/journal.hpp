// Durability of the embedded mode. librdkafka's mock cluster keeps its topics in memory, so
// `loraplane up` without --kafka journals the compacted state topics (loraplane.tenants,
// loraplane.adapters) into the data dir's RocksDB while it runs and produces them back into the
// fresh mock cluster at the next start, before any role reads them. Only the latest record per
// key is kept, which is what compaction would keep.
//
// A change is durable once its caller is answered: the mock cluster's delivery gate
// (common/kafka_gate.hpp) reports a record of these topics, and of loraplane.jobs, to its
// producer only once the journal has written it, so a kill -9 right after an answer keeps the
// change. Delete jobs are journaled until the adapter's state shows the delete under way; at
// replay, an adapter whose delete was answered is removed.
//
// What a restart cannot bring back: uploads in flight (loraplane.uploads and the upload jobs
// are not journaled). At replay an adapter still pending or validating is marked failed with code
// `interrupted` (upload it again), and one still deleting is removed, so nothing is left stuck.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "common/kafka.hpp"
#include "common/result.hpp"
#include "storage/db.hpp"

namespace loraplane::cmd {

struct ReplayCounts {
  std::size_t tenants = 0;      // tenant and key records
  std::size_t adapters = 0;     // adapter states produced back
  std::size_t interrupted = 0;  // of which marked failed (in flight at the last stop)
  std::size_t dropped = 0;      // deleting adapters removed
};

class Journal {
 public:
  // The Db and the cluster must outlive the journal.
  Journal(storage::Db& db, const kafka::Cluster& cluster);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Produces every journaled record into the cluster and waits for the acknowledgements. Call
  // once, before start() and before any other role starts.
  Result<ReplayCounts> replay(std::chrono::milliseconds timeout);
  // Starts table readers that write each record of the journaled topics into the Db (synced),
  // and gates the producers' reports of those topics on them.
  void start();
  // Reads the journaled topics once more up to their current end, so records produced just
  // before a clean stop are kept, then stops the readers. False if that did not finish in time.
  bool stop(std::chrono::milliseconds timeout);

 private:
  kafka::Handled record(const kafka::Message& message);

  storage::Db& db_;
  const kafka::Cluster& cluster_;
  std::unique_ptr<kafka::Consumer> reader_;
};

}  // namespace loraplane::cmd
