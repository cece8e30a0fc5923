// Private to the kafka_impl*.cpp files: RAII owners for librdkafka handles, configuration and
// error mapping shared by the cluster, producer and consumer, and the loraplane_kafka_* metric
// families. This is the one header that includes rdkafka.h; nothing outside common/kafka_impl*
// may include it.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/kafka.hpp"
#include "common/result.hpp"

namespace prometheus {
class Counter;
class Gauge;
}  // namespace prometheus

namespace loraplane::kafka::impl {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
  void operator()(const rd_kafka_metadata_t* md) const { rd_kafka_metadata_destroy(md); }
};

using HandlePtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using HeadersPtr = std::unique_ptr<rd_kafka_headers_t, KafkaDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, KafkaDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;
using AdminOptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, KafkaDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, KafkaDeleter>;

// A configuration with bootstrap.servers and client.id set, librdkafka's own log lines routed
// to spdlog and broker/client errors logged. Throws std::invalid_argument on a rejected key
// (programmer error: keys and values are ours, not user input).
ConfPtr make_conf(std::string_view bootstrap, std::string_view client_id);
void set_conf(rd_kafka_conf_t* conf, const char* key, const std::string& value);
// Takes ownership of `conf` on success; throws std::runtime_error with librdkafka's reason.
HandlePtr make_handle(rd_kafka_type_t type, ConfPtr conf);

// Expected-path error mapping: one place decides which librdkafka codes are retryable.
Errc to_errc(rd_kafka_resp_err_t err);
Error to_error(rd_kafka_resp_err_t err, std::string_view context);

// Broker metadata for all topics (our clusters hold a handful).
Result<MetadataPtr> fetch_metadata(rd_kafka_t* rk, std::chrono::milliseconds timeout);
const rd_kafka_metadata_topic_t* find_topic(const rd_kafka_metadata_t& md, std::string_view name);

// True at most once per `every` for the same `last` (a per-site throttle for log lines that a
// broker outage would otherwise repeat per message); `suppressed` counts the refusals since.
bool log_allowed(std::atomic<std::int64_t>& last_ms, std::atomic<std::int64_t>& suppressed,
                 std::chrono::milliseconds every, std::int64_t* suppressed_before);

std::chrono::milliseconds remaining(std::chrono::steady_clock::time_point deadline);
int to_timeout_ms(std::chrono::milliseconds ms);

// Metrics (families registered once in common/metrics.hpp's registry).
prometheus::Counter& produced_counter(const std::string& topic, std::string_view result);
prometheus::Counter& consumed_counter(const std::string& topic);
// Shared by every consumer with the same labels and never removed (a removed series would
// dangle in another consumer); owners set it to 0 when they give the partition up.
prometheus::Gauge& lag_gauge(const std::string& consumer, const std::string& topic,
                             std::int32_t partition);

}  // namespace loraplane::kafka::impl
