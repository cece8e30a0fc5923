#include "cmd/journal.hpp"

#include <spdlog/spdlog.h>

#include <mutex>
#include <optional>
#include <set>
#include <ctime>
#include <string>
#include <vector>

#include "common/kafka_gate.hpp"
#include "schema/json.hpp"

namespace loraplane::cmd {

namespace {

using namespace std::chrono_literals;

// A delete job answered to its caller, until the adapter's state shows the delete under way:
// meta key = prefix + adapter id, value = tenant id. Replay completes the delete of an
// adapter that still has one.
constexpr std::string_view kDeletePrefix = "journal/delete/";

// How long the journal's reads of the mock cluster wait for new records: every answer that
// changes state waits for the journal (common/kafka_gate.hpp), so this is added to its latency.
constexpr auto kFetchWait = 10ms;

// The topics journaled (tenants, adapters) and those whose delete jobs are (jobs).
std::vector<std::string> journaled_topics() {
  return {std::string(kafka::kTenants), std::string(kafka::kAdapters), std::string(kafka::kJobs)};
}

// Where a record of a journaled topic lives in the Db: tenant records and key records of
// loraplane.tenants in their own column families, adapter states in theirs.
std::optional<storage::Table> table_of(std::string_view topic, std::string_view key) {
  if (topic == kafka::kAdapters) return storage::Table::adapters;
  if (topic == kafka::kTenants)
    return key.starts_with("key/") ? storage::Table::api_keys : storage::Table::tenants;
  return std::nullopt;
}

// What to produce back for one journaled adapter state: the record as it was, or the record
// that settles an adapter whose job died with the previous process.
struct Settled {
  std::optional<std::string> value;  // nullopt: drop the adapter
  bool interrupted = false;
};

Settled settle(std::string_view json, bool delete_answered) {
  if (delete_answered) return {std::nullopt};
  auto state = schema::parse<schema::AdapterState>(json);
  if (!state) return {std::string(json)};  // not ours to judge; readers will skip it
  switch (state->adapter.status) {
    case schema::AdapterStatus::pending:
    case schema::AdapterStatus::validating: {
      auto failed = state.value();
      failed.seq += 1;
      failed.updated_at = static_cast<std::int64_t>(std::time(nullptr));
      failed.validated = false;
      failed.adapter.status = schema::AdapterStatus::failed;
      const bool imported = failed.adapter.source.type == schema::SourceType::hf;
      failed.adapter.error = schema::AdapterError{
          "interrupted",
          imported ? "loraplane restarted before this import was stored (embedded mode keeps no "
                     "import in flight across a restart); import it again"
                   : "loraplane restarted before this adapter was stored (embedded mode keeps no "
                     "upload in flight across a restart); upload it again"};
      return {schema::to_json(failed), true};
    }
    case schema::AdapterStatus::deleting:
      return {std::nullopt};
    default:
      return {std::string(json)};
  }
}

// An adapter record that shows its delete under way (or done): the answered delete job is
// then no longer needed to finish it.
bool delete_under_way(const kafka::Message& message) {
  if (message.tombstone) return true;
  auto state = schema::parse<schema::AdapterState>(message.value);
  return state && state->adapter.status == schema::AdapterStatus::deleting;
}

}  // namespace

Journal::Journal(storage::Db& db, const kafka::Cluster& cluster) : db_(db), cluster_(cluster) {}

Journal::~Journal() {
  if (reader_) reader_->stop();
}

Result<ReplayCounts> Journal::replay(std::chrono::milliseconds timeout) {
  struct Pending {
    std::string topic, key;
    std::optional<std::string> value;
    storage::Table table;
  };
  std::vector<Pending> records;
  ReplayCounts counts;
  for (storage::Table table : {storage::Table::tenants, storage::Table::api_keys}) {
    auto st = db_.scan(table, "", [&](std::string_view key, std::string_view value) {
      records.push_back({std::string(kafka::kTenants), std::string(key), std::string(value), table});
      ++counts.tenants;
      return true;
    });
    if (!st) return st.error();
  }
  storage::MetaBatch settled;
  std::set<std::string, std::less<>> delete_answered;
  if (auto st = db_.scan(storage::Table::meta, kDeletePrefix,
                         [&](std::string_view key, std::string_view) {
                           delete_answered.emplace(key.substr(kDeletePrefix.size()));
                           settled.del(storage::Table::meta, std::string(key));
                           return true;
                         });
      !st)
    return st.error();
  auto st = db_.scan(storage::Table::adapters, "", [&](std::string_view key, std::string_view value) {
    auto outcome = settle(value, delete_answered.contains(key));
    if (!outcome.value) {
      ++counts.dropped;
      settled.del(storage::Table::adapters, std::string(key));
      // A tombstone, so a storage node still holding the blob releases it.
      records.push_back({std::string(kafka::kAdapters), std::string(key), std::nullopt,
                         storage::Table::adapters});
      return true;
    }
    if (outcome.interrupted) {
      ++counts.interrupted;
      settled.put(storage::Table::adapters, std::string(key), *outcome.value);
    }
    ++counts.adapters;
    records.push_back({std::string(kafka::kAdapters), std::string(key), std::move(outcome.value),
                       storage::Table::adapters});
    return true;
  });
  if (!st) return st.error();
  if (records.empty()) {
    if (!settled.ops.empty()) {
      if (auto written = db_.write(settled); !written) return written.error();
    }
    return counts;
  }

  // Delivery reports may outlive this frame if the flush times out: they share the tally.
  struct Tally {
    std::mutex mutex;
    std::size_t acknowledged = 0;
    std::optional<Error> error;
  };
  auto tally = std::make_shared<Tally>();
  {
    kafka::ProducerOptions options;
    options.client_id = "loraplane-journal";
    auto producer = kafka::Producer::create(cluster_, options);
    for (const auto& r : records) {
      std::optional<std::string_view> value;
      if (r.value) value = *r.value;
      producer->produce(r.topic, r.key, value, {}, [tally](Status delivered) {
        std::lock_guard lock(tally->mutex);
        if (delivered)
          ++tally->acknowledged;
        else if (!tally->error)
          tally->error = delivered.error();
      });
    }
    producer->flush(timeout);
  }
  {
    std::lock_guard lock(tally->mutex);
    if (tally->error) return *tally->error;
    if (tally->acknowledged != records.size())
      return make_error(Errc::unavailable,
                        "replaying the journal into the embedded cluster timed out");
  }
  if (!settled.ops.empty()) {
    if (auto written = db_.write(settled); !written) return written.error();
  }
  return counts;
}

kafka::Handled Journal::record(const kafka::Message& message) {
  storage::MetaBatch batch;
  if (message.topic == kafka::kJobs) {
    auto job = schema::parse<schema::Job>(message.value);
    if (job && job->kind == schema::JobKind::remove)
      batch.put(storage::Table::meta, std::string(kDeletePrefix) + job->adapter_id, job->tenant_id);
  } else if (auto table = table_of(message.topic, message.key)) {
    if (message.tombstone)
      batch.del(*table, message.key);
    else
      batch.put(*table, message.key, message.value);
    if (*table == storage::Table::adapters && delete_under_way(message))
      batch.del(storage::Table::meta, std::string(kDeletePrefix) + message.key);
  }
  if (!batch.ops.empty()) {
    if (auto st = db_.write(batch); !st) {
      spdlog::warn("journal: writing {} {}: {}", message.topic, message.key, st.error().message);
      return kafka::Handled::retry;
    }
  }
  if (auto* gate = cluster_.delivery_gate())
    gate->written(message.topic, message.partition, message.offset);
  return kafka::Handled::done;
}

void Journal::start() {
  // From here on, a change is reported to its producer only once it is written here.
  if (auto* gate = cluster_.delivery_gate()) gate->gate(journaled_topics());
  kafka::ConsumerOptions options;
  options.client_id = "loraplane-journal";
  options.topics = journaled_topics();
  options.mock_fetch_wait = kFetchWait;
  reader_ = kafka::Consumer::start(cluster_, options,
                                   [this](const kafka::Message& m) { return record(m); });
}

bool Journal::stop(std::chrono::milliseconds timeout) {
  if (reader_) reader_->stop();
  reader_.reset();
  // A fresh table reader is caught up once it has read to the end offsets of its start: every
  // record produced before this call is then in the Db.
  kafka::ConsumerOptions options;
  options.client_id = "loraplane-journal-final";
  options.topics = journaled_topics();
  options.mock_fetch_wait = kFetchWait;
  auto sweep = kafka::Consumer::start(cluster_, options,
                                      [this](const kafka::Message& m) { return record(m); });
  const bool complete = sweep->wait_caught_up(timeout);
  sweep->stop();
  if (!complete) spdlog::warn("journal: the final sweep did not finish in time");
  return complete;
}

}  // namespace loraplane::cmd
