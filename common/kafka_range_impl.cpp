#include "common/kafka_range.hpp"

#include "common/kafka_claims.hpp"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "common/sha256.hpp"

namespace loraplane::kafka {

namespace {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

Result<KafkaHandle> make_reader(const Cluster& cluster) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<const char*, std::string> settings[] = {
      {"bootstrap.servers", cluster.bootstrap()},
      {"client.id", "loraplane-range-reader"},
      {"group.id", "loraplane-range-" + random_base62(12)},  // assign() only; never joins
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
      {"auto.offset.reset", "error"},  // a range gone from the log is an error, not a jump
      {"queued.max.messages.kbytes", "8192"},  // bounds prefetched bytes
      {"fetch.max.bytes", "8388608"},
  };
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return make_error(Errc::internal, std::string("kafka config ") + key + ": " + err);
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return make_error(Errc::unavailable, std::string("kafka consumer: ") + err);
  }
  return KafkaHandle(rk);
}

Message to_message(const rd_kafka_message_t* m) {
  Message out;
  out.topic = std::string(unprefixed(rd_kafka_topic_name(m->rkt)));
  out.partition = m->partition;
  out.offset = m->offset;
  if (m->key) out.key.assign(static_cast<const char*>(m->key), m->key_len);
  out.tombstone = m->payload == nullptr;
  if (m->payload) out.value.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      out.headers.push_back(
          {name, value ? std::string(static_cast<const char*>(value), size) : std::string()});
    }
  }
  rd_kafka_timestamp_type_t type;
  out.timestamp_ms = rd_kafka_message_timestamp(m, &type);
  return out;
}

}  // namespace

Status read_range(const Cluster& cluster, std::string_view topic, std::int32_t partition,
                  std::int64_t first_offset, std::int64_t last_offset,
                  const std::function<Status(const Message&)>& visit,
                  std::chrono::milliseconds idle_timeout) {
  if (first_offset < 0 || last_offset < first_offset)
    return make_error(Errc::invalid_argument, "read_range: empty or negative offset range");
  auto reader = make_reader(cluster);
  if (!reader) return reader.error();
  rd_kafka_t* rk = reader->get();
  std::string topic_name = prefixed(topic);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic_name.c_str(), partition)->offset = first_offset;
  rd_kafka_resp_err_t assigned = rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (assigned != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_error(Errc::unavailable, std::string("read_range assign: ") + rd_kafka_err2str(assigned));

  std::int64_t next = first_offset;
  auto last_progress = std::chrono::steady_clock::now();
  while (next <= last_offset) {
    if (std::chrono::steady_clock::now() - last_progress > idle_timeout)
      return make_error(Errc::unavailable, "read_range: no message at offset " +
                                               std::to_string(next) + " of " + topic_name + "[" +
                                               std::to_string(partition) + "] in time");
    rd_kafka_message_t* raw = rd_kafka_consumer_poll(rk, 100);
    if (!raw) continue;
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> msg(raw,
                                                                          rd_kafka_message_destroy);
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
    if (msg->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
        msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET)
      return make_error(Errc::not_found, "read_range: offsets " + std::to_string(next) + ".." +
                                             std::to_string(last_offset) + " of " + topic_name +
                                             " are no longer in the log");
    if (msg->err) {
      spdlog::debug("read_range {}[{}]: {}", topic_name, partition, rd_kafka_message_errstr(raw));
      continue;
    }
    if (msg->offset < next) continue;
    last_progress = std::chrono::steady_clock::now();
    next = msg->offset + 1;
    auto message = to_message(raw);
    if (cluster.claims() != nullptr) cluster.claims()->redeem(message);
    if (auto st = visit(message); !st) return st;
  }
  return {};
}

}  // namespace loraplane::kafka
