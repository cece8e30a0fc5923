// librdkafka plumbing shared by the cluster, producer and consumer: configuration with logging
// routed to spdlog, error mapping, metadata, and the loraplane_kafka_* metric families.
#include "common/kafka_impl.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <stdexcept>

#include "common/metrics.hpp"

namespace loraplane::kafka::impl {
namespace {

// librdkafka levels are syslog levels. Its debug lines only exist when LORAPLANE_KAFKA_DEBUG
// asked for them, so they are shown at info then.
void log_cb(const rd_kafka_t* rk, int level, const char* facility, const char* line) {
  const char* name = rk ? rd_kafka_name(rk) : "rdkafka";
  if (level <= 3) {
    spdlog::error("kafka {} {}: {}", name, facility, line);
  } else if (level == 4) {
    spdlog::warn("kafka {} {}: {}", name, facility, line);
  } else if (level <= 6 || std::getenv("LORAPLANE_KAFKA_DEBUG") != nullptr) {
    spdlog::info("kafka {} {}: {}", name, facility, line);
  } else {
    spdlog::debug("kafka {} {}: {}", name, facility, line);
  }
}

void error_cb(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    std::array<char, 512> why{};
    const auto fatal = rd_kafka_fatal_error(rk, why.data(), why.size());
    spdlog::error("kafka {} fatal error {}: {}", rd_kafka_name(rk), rd_kafka_err2name(fatal),
                  why.data());
    return;
  }
  // Transport errors are retried by librdkafka on its own; they are worth a line, not a page.
  spdlog::warn("kafka {} {}: {}", rd_kafka_name(rk), rd_kafka_err2name(code), reason);
}

}  // namespace

void set_conf(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  std::array<char, 512> err{};
  if (rd_kafka_conf_set(conf, key, value.c_str(), err.data(), err.size()) != RD_KAFKA_CONF_OK) {
    throw std::invalid_argument(std::string("kafka config ") + key + ": " + err.data());
  }
}

ConfPtr make_conf(std::string_view bootstrap, std::string_view client_id) {
  ConfPtr conf(rd_kafka_conf_new());
  set_conf(conf.get(), "bootstrap.servers", std::string(bootstrap));
  set_conf(conf.get(), "client.id", std::string(client_id));
  set_conf(conf.get(), "log.connection.close", "false");
  // Reconnect within a second of the broker coming back: the default backoff ceiling (10 s)
  // could keep a gateway answering 503 (Kafka unreachable) that long after an outage.
  set_conf(conf.get(), "reconnect.backoff.max.ms", "1000");
  // Troubleshooting switch, e.g. LORAPLANE_KAFKA_DEBUG=cgrp,fetch (librdkafka `debug` contexts).
  if (const char* debug = std::getenv("LORAPLANE_KAFKA_DEBUG"); debug != nullptr && *debug) {
    set_conf(conf.get(), "debug", debug);
  }
  rd_kafka_conf_set_log_cb(conf.get(), log_cb);
  rd_kafka_conf_set_error_cb(conf.get(), error_cb);
  return conf;
}

HandlePtr make_handle(rd_kafka_type_t type, ConfPtr conf) {
  std::array<char, 512> err{};
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err.data(), err.size());
  if (rk == nullptr) throw std::runtime_error(std::string("rd_kafka_new: ") + err.data());
  (void)conf.release();  // owned by rk now
  return HandlePtr(rk);
}

Errc to_errc(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return Errc::internal;  // not an error; callers never map success
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
      return Errc::limit_exceeded;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Errc::not_found;
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return Errc::already_exists;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
      return Errc::invalid_argument;
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
      return Errc::corrupt;
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return Errc::internal;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return Errc::unavailable;
    default:
      return Errc::io;
  }
}

Error to_error(rd_kafka_resp_err_t err, std::string_view context) {
  return make_error(to_errc(err), std::string(context) + ": " + rd_kafka_err2name(err) + " (" +
                                      rd_kafka_err2str(err) + ")");
}

Result<MetadataPtr> fetch_metadata(rd_kafka_t* rk, std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  const auto err = rd_kafka_metadata(rk, 1, nullptr, &md, to_timeout_ms(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return to_error(err, "metadata");
  return MetadataPtr(md);
}

const rd_kafka_metadata_topic_t* find_topic(const rd_kafka_metadata_t& md, std::string_view name) {
  for (int i = 0; i < md.topic_cnt; ++i) {
    if (name == md.topics[i].topic) return &md.topics[i];
  }
  return nullptr;
}

bool log_allowed(std::atomic<std::int64_t>& last_ms, std::atomic<std::int64_t>& suppressed,
                 std::chrono::milliseconds every, std::int64_t* suppressed_before) {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t last = last_ms.load();
  if (now - last < every.count() || !last_ms.compare_exchange_strong(last, now)) {
    ++suppressed;
    return false;
  }
  *suppressed_before = suppressed.exchange(0);
  return true;
}

std::chrono::milliseconds remaining(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

int to_timeout_ms(std::chrono::milliseconds ms) {
  return static_cast<int>(std::clamp<std::int64_t>(ms.count(), 0, 24LL * 3600 * 1000));
}

prometheus::Counter& produced_counter(const std::string& topic, std::string_view result) {
  static auto& family = prometheus::BuildCounter()
                            .Name("loraplane_kafka_produced_total")
                            .Help("Messages produced, by delivery result")
                            .Register(metrics::registry());
  return family.Add({{"topic", topic}, {"result", std::string(result)}});
}

prometheus::Counter& consumed_counter(const std::string& topic) {
  static auto& family = prometheus::BuildCounter()
                            .Name("loraplane_kafka_consumed_total")
                            .Help("Messages handled by consumers (done or retried)")
                            .Register(metrics::registry());
  return family.Add({{"topic", topic}});
}

namespace {
prometheus::Family<prometheus::Gauge>& lag_family() {
  static auto& family = prometheus::BuildGauge()
                            .Name("loraplane_kafka_consumer_lag")
                            .Help("Messages between a consumer's position and the partition end")
                            .Register(metrics::registry());
  return family;
}
}  // namespace

prometheus::Gauge& lag_gauge(const std::string& consumer, const std::string& topic,
                             std::int32_t partition) {
  return lag_family().Add(
      {{"consumer", consumer}, {"topic", topic}, {"partition", std::to_string(partition)}});
}

}  // namespace loraplane::kafka::impl
