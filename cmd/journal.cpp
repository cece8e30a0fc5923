#include "cmd/journal.hpp"

#include <spdlog/spdlog.h>

#include <mutex>
#include <optional>
#include <ctime>
#include <string>
#include <vector>

#include "schema/json.hpp"

namespace loraplane::cmd {

namespace {

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

Settled settle(std::string_view json) {
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
      failed.adapter.error = schema::AdapterError{
          "interrupted",
          "loraplane restarted before this adapter was stored (embedded mode keeps no upload in "
          "flight across a restart); upload it again"};
      return {schema::to_json(failed), true};
    }
    case schema::AdapterStatus::deleting:
      return {std::nullopt};
    default:
      return {std::string(json)};
  }
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
  auto st = db_.scan(storage::Table::adapters, "", [&](std::string_view key, std::string_view value) {
    auto outcome = settle(value);
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
  if (records.empty()) return counts;

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
  auto table = table_of(message.topic, message.key);
  if (!table) return kafka::Handled::done;
  storage::MetaBatch batch;
  if (message.tombstone)
    batch.del(*table, message.key);
  else
    batch.put(*table, message.key, message.value);
  if (auto st = db_.write(batch); !st) {
    spdlog::warn("journal: writing {} {}: {}", message.topic, message.key, st.error().message);
    return kafka::Handled::retry;
  }
  return kafka::Handled::done;
}

void Journal::start() {
  kafka::ConsumerOptions options;
  options.client_id = "loraplane-journal";
  options.topics = {std::string(kafka::kTenants), std::string(kafka::kAdapters)};
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
  options.topics = {std::string(kafka::kTenants), std::string(kafka::kAdapters)};
  auto sweep = kafka::Consumer::start(cluster_, options,
                                      [this](const kafka::Message& m) { return record(m); });
  const bool complete = sweep->wait_caught_up(timeout);
  sweep->stop();
  if (!complete) spdlog::warn("journal: the final sweep did not finish in time");
  return complete;
}

}  // namespace loraplane::cmd
