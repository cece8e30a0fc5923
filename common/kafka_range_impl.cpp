#include "common/kafka_range.hpp"

#include "common/kafka_claims.hpp"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

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

// Prefetch bounds. librdkafka stops fetching once this much is queued and, before 2.2, only
// looks again when its broker thread next wakes up, up to 1 s later (librdkafka #2879):
// whenever the caller is slower than the broker (a storage node writing to RocksDB), reads
// stalled once per queue-full, which made a 100 MB copy take ~6 s instead of ~1 s. read_range
// wakes the fetcher itself (see kick below); the queue is as large as the fetch size twice,
// so a kick is due at most once per kQueueBytes consumed.
constexpr int kFetchBytes = 16 << 20;       // per fetch response (and per partition in it)
constexpr int kQueueBytes = 2 * kFetchBytes;  // queued before fetching pauses

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
      // Memory: at most kQueueBytes queued plus one fetch response in flight.
      {"queued.max.messages.kbytes", std::to_string(kQueueBytes / 1024)},
      {"fetch.max.bytes", std::to_string(kFetchBytes)},
      {"max.partition.fetch.bytes", std::to_string(kFetchBytes)},
  };
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return make_error(Errc::internal, std::string("kafka config ") + key + ": " + err);
    }
  }
  // librdkafka >= 2.2 can be told to look again soon after a queue-full; older versions do
  // not know the property (then the kick does the job alone).
  rd_kafka_conf_set(conf, "fetch.queue.backoff.ms", "10", err, sizeof err);
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

  // The fetcher can only have paused for a full queue if at least kQueueBytes arrived since
  // it last started; if the queue has then been drained and nothing comes for a moment, a seek
  // to the next offset wakes it (an op for its broker thread) instead of waiting out its
  // up-to-1 s sleep. Seeking to exactly the next wanted offset skips and repeats nothing; a
  // kick that races a fetch in flight costs that fetch once per kQueueBytes.
  auto kick = [&](std::int64_t offset) {
    rd_kafka_topic_partition_list_t* at = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(at, topic_name.c_str(), partition)->offset = offset;
    if (rd_kafka_error_t* e = rd_kafka_seek_partitions(rk, at, 0)) {
      spdlog::debug("read_range {}[{}]: seek to {}: {}", topic_name, partition, offset,
                    rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(at);
  };
  constexpr int kPollMs = 20;
  std::int64_t next = first_offset;
  std::uint64_t since_kick = 0;  // bytes taken since the fetcher last (re)started
  int kicks = 0;
  auto last_progress = std::chrono::steady_clock::now();
  while (next <= last_offset) {
    if (std::chrono::steady_clock::now() - last_progress > idle_timeout)
      return make_error(Errc::unavailable, "read_range: no message at offset " +
                                               std::to_string(next) + " of " + topic_name + "[" +
                                               std::to_string(partition) + "] in time");
    rd_kafka_message_t* raw = rd_kafka_consumer_poll(rk, kPollMs);
    if (!raw) {
      if (since_kick >= static_cast<std::uint64_t>(kQueueBytes)) {
        kick(next);
        since_kick = 0;
        ++kicks;
      }
      continue;
    }
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
    since_kick += msg->len + msg->key_len;
    auto message = to_message(raw);
    if (cluster.claims() != nullptr) cluster.claims()->redeem(message);
    if (auto st = visit(message); !st) return st;
  }
  spdlog::debug("read_range {}[{}] {}..{}: {} fetcher wake-ups", topic_name, partition,
                first_offset, last_offset, kicks);
  return {};
}

}  // namespace loraplane::kafka
