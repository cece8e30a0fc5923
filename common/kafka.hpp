// Kafka seam: a cluster handle (real brokers or librdkafka's embedded mock cluster), an
// idempotent acks=all producer with awaitable delivery reports, and consumers whose handlers
// run on their own thread and whose offsets are committed only after the handler says the
// effect is durable. rdkafka.h appears only in kafka_impl.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.hpp"
#include "common/result.hpp"

namespace loraplane::kafka {

// Topic names used across roles.
inline constexpr std::string_view kUploads = "loraplane.uploads";
inline constexpr std::string_view kJobs = "loraplane.jobs";
inline constexpr std::string_view kAdapters = "loraplane.adapters";
inline constexpr std::string_view kLoadEvents = "loraplane.load-events";
inline constexpr std::string_view kResidency = "loraplane.residency";
inline constexpr std::string_view kTenants = "loraplane.tenants";

// A namespace for every topic and consumer group this process uses, so several deployments
// (or concurrent test runs) can share one cluster: with prefix "it42." the roles read and write
// "it42.loraplane.jobs" and join "it42.loraplane-validate". Callers keep using the names above;
// the Kafka layer adds the prefix on the way to the broker and removes it from Message::topic.
// Process-wide, set once at start-up before any producer or consumer exists (the CLI's
// --topic-prefix, env LORAPLANE_TOPIC_PREFIX). Empty by default. Throws std::invalid_argument
// unless the prefix is at most 64 characters of [A-Za-z0-9._-].
void set_topic_prefix(std::string prefix);
const std::string& topic_prefix();
// `name` (a topic or group id) as the broker knows it, and back.
std::string prefixed(std::string_view name);
std::string_view unprefixed(std::string_view name);

struct TopicSpec {
  std::string name;
  int partitions = 1;
  bool compacted = false;
  std::int64_t retention_ms = 7LL * 24 * 3600 * 1000;  // ignored when compacted
  int max_message_bytes = 2 * 1024 * 1024;
};

// The topics every role expects (same list as ops/kafka/topics.tsv).
std::vector<TopicSpec> default_topics();

class ClaimStore;    // common/kafka_claims.hpp
class DeliveryGate;  // common/kafka_gate.hpp

struct Header {
  std::string key;
  std::string value;
};

struct Message {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string value;
  bool tombstone = false;  // null value on a compacted topic
  std::vector<Header> headers;
  std::int64_t timestamp_ms = 0;
  // The last header with this name (a later value overrides), or nullptr.
  const std::string* header(std::string_view name) const;
};

// A cluster: either external brokers ("host:port,...") or an in-process mock cluster that lives
// as long as this object. Every Producer/Consumer made from it must be destroyed first.
class Cluster {
 public:
  virtual ~Cluster() = default;
  // Starts librdkafka's mock cluster with one broker.
  // `spool_dir`: where large upload chunks are kept (see common/kafka_claims.hpp); empty = a
  // temporary directory removed with the cluster.
  static std::unique_ptr<Cluster> embedded(std::string spool_dir = {});
  static std::unique_ptr<Cluster> external(std::string bootstrap);

  virtual const std::string& bootstrap() const = 0;
  virtual bool is_mock() const = 0;
  // The mock cluster's spool for large upload chunks; nullptr on real clusters.
  virtual ClaimStore* claims() const { return nullptr; }
  // The mock cluster's delivery gate (the embedded journal's barrier); nullptr on real clusters.
  virtual DeliveryGate* delivery_gate() const { return nullptr; }
  // Creates missing topics (idempotent; existing ones are left alone). Blocking.
  virtual Status ensure_topics(const std::vector<TopicSpec>& topics,
                               std::chrono::milliseconds timeout) = 0;
  // What the cluster holds for one topic: partitions from metadata, cleanup.policy,
  // retention.ms and max.message.bytes from DescribeConfigs (to check a deployment against
  // default_topics()). Errc::not_found for a missing topic; the mock cluster keeps no topic
  // configs and answers Errc::unavailable. Blocking.
  virtual Result<TopicSpec> describe_topic(std::string_view name,
                                           std::chrono::milliseconds timeout) const = 0;
};

// Where an acknowledged message was stored.
struct Delivered {
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

struct ProducerOptions {
  std::string client_id = "loraplane";
  int max_message_bytes = 2 * 1024 * 1024;
  std::chrono::milliseconds delivery_timeout{30000};  // message.timeout.ms: fail, not hang
  std::size_t queue_max_bytes = 64 * 1024 * 1024;     // bounded in-flight memory
  // Watch the connections to the brokers (librdkafka statistics every second), for
  // brokers_reachable(): callers that would rather refuse at once than wait out
  // delivery_timeout while the cluster is down.
  bool watch_brokers = false;
};

class Producer {
 public:
  virtual ~Producer() = default;
  static std::unique_ptr<Producer> create(const Cluster& cluster, ProducerOptions options);

  using DeliveryCallback = std::function<void(Status)>;
  // Enqueues a message; `done` runs on librdkafka's delivery thread (or inside flush()) once the
  // broker has acknowledged it (acks=all, idempotent) or it failed for good: Errc::unavailable
  // for retryable causes (timeout, broker down), limit_exceeded for an oversized message. A full
  // local queue or an oversized message fails at once, with `done` called inside produce().
  // value == nullopt writes a tombstone. Payloads are copied; the views need not outlive the
  // call.
  virtual void produce(std::string_view topic, std::string_view key,
                       std::optional<std::string_view> value, std::vector<Header> headers,
                       DeliveryCallback done) = 0;
  // Same, but the report also says where the message landed (to read it back later by offset).
  using DeliveredCallback = std::function<void(Result<Delivered>)>;
  virtual void produce_delivered(std::string_view topic, std::string_view key,
                                 std::optional<std::string_view> value,
                                 std::vector<Header> headers, DeliveredCallback done) = 0;
  // Waits for all outstanding deliveries; false on timeout.
  virtual bool flush(std::chrono::milliseconds timeout) = 0;
  // With watch_brokers: false once no broker connection has been up for a statistics interval
  // (about a second), true again as soon as one is. Always true without watch_brokers.
  virtual bool brokers_reachable() const { return true; }
};

// Awaitable form of Producer::produce: resumes on the caller's executor after delivery, and
// keeps that executor's io_context from running out of work meanwhile. The views are copied when
// the returned awaitable starts, so `co_await produce(...)` directly; destroy (or flush) the
// producer before the io_context, since a late delivery posts to it.
awaitable<Status> produce(Producer& producer, std::string_view topic, std::string_view key,
                          std::optional<std::string_view> value, std::vector<Header> headers = {});
// Awaitable form of Producer::produce_delivered (same rules).
awaitable<Result<Delivered>> produce_delivered(Producer& producer, std::string_view topic,
                                               std::string_view key,
                                               std::optional<std::string_view> value,
                                               std::vector<Header> headers = {});

struct ConsumerOptions {
  std::string client_id = "loraplane";
  // Non-empty: a consumer group (partitions shared among members, offsets committed after each
  // handled message, starting at the earliest offset when the group has none).
  // Empty: a table reader: every partition assigned, read from the beginning, nothing committed
  // (for compacted state topics that every instance must see whole, and for broadcasts).
  std::string group_id;
  std::vector<std::string> topics;
  std::chrono::milliseconds poll_timeout{100};
  // Group mode: how long a silent member keeps its partitions. A member that stops cleanly
  // leaves at once; this bounds failover after a crash (librdkafka's default is 45 s).
  std::chrono::milliseconds session_timeout{45000};
  // Mock clusters only: how long a fetch waits for new records (the mock broker answers a
  // waiting fetch only when this runs out, so it bounds how late a record is seen).
  std::chrono::milliseconds mock_fetch_wait{50};
};

// Handler result: Done = effect durable, commit; Retry = not handled, redeliver this message
// after a back-off (the consumer does not move past it).
enum class Handled { done, retry };

class Consumer {
 public:
  using Handler = std::function<Handled(const Message&)>;
  virtual ~Consumer() = default;  // stops the thread, commits, closes
  // Starts a thread that polls and calls `handler` for each message, in partition order.
  static std::unique_ptr<Consumer> start(const Cluster& cluster, ConsumerOptions options,
                                         Handler handler);
  // True once every assigned partition has been read up to the end offset it had when the
  // consumer started (table readers: the state is complete enough to serve).
  virtual bool caught_up() const = 0;
  // Blocks until caught_up() or the timeout.
  virtual bool wait_caught_up(std::chrono::milliseconds timeout) const = 0;
  virtual void stop() = 0;  // idempotent
};

}  // namespace loraplane::kafka
