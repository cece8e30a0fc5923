// Cluster handles: librdkafka's in-process mock cluster (tests, single-binary demos) and real
// brokers, with topic creation (mock API or the Admin API's CreateTopics) that waits until the
// new topics are visible in metadata, so a consumer started right after sees every partition.
#include "common/kafka_claims.hpp"
#include "common/kafka_gate.hpp"
#include "common/kafka_impl.hpp"  // first: rdkafka_mock.h needs rdkafka.h

#include <librdkafka/rdkafka_mock.h>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <string>
#include <thread>

namespace loraplane::kafka {
namespace impl {
namespace {

constexpr auto kMetadataRetry = std::chrono::milliseconds(100);

// Every wanted topic has at least its partitions, each with a leader.
bool topics_visible(const rd_kafka_metadata_t& md, const std::vector<TopicSpec>& wanted) {
  for (const auto& spec : wanted) {
    bool ready = false;
    for (int i = 0; i < md.topic_cnt; ++i) {
      const auto& t = md.topics[i];
      if (spec.name != t.topic || t.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      ready = t.partition_cnt >= spec.partitions;
      for (int p = 0; p < t.partition_cnt; ++p) {
        ready = ready && t.partitions[p].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                t.partitions[p].leader >= 0;
      }
    }
    if (!ready) return false;
  }
  return true;
}

Status wait_visible(rd_kafka_t* rk, const std::vector<TopicSpec>& wanted,
                    std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto md = fetch_metadata(rk, std::max(remaining(deadline), std::chrono::milliseconds(1)));
    if (md.ok() && topics_visible(**md, wanted)) return {};
    if (remaining(deadline).count() == 0) {
      return make_error(Errc::unavailable, md.ok() ? "topics not visible in metadata in time"
                                                   : md.error().message);
    }
    std::this_thread::sleep_for(kMetadataRetry);
  }
}

HandlePtr admin_handle(std::string_view bootstrap) {
  return make_handle(RD_KAFKA_PRODUCER, make_conf(bootstrap, "loraplane-admin"));
}

AdminOptionsPtr admin_options(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                              std::chrono::milliseconds timeout) {
  AdminOptionsPtr options(rd_kafka_AdminOptions_new(rk, op));
  std::array<char, 256> err{};
  rd_kafka_AdminOptions_set_request_timeout(options.get(), to_timeout_ms(timeout), err.data(),
                                            err.size());
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS) {
    rd_kafka_AdminOptions_set_operation_timeout(options.get(), to_timeout_ms(timeout),
                                                err.data(), err.size());
  }
  return options;
}

// Waits for the one result event an Admin call posts to `queue`.
Result<EventPtr> admin_result(rd_kafka_queue_t* queue, std::chrono::milliseconds timeout,
                              std::string_view what) {
  EventPtr ev(rd_kafka_queue_poll(queue, to_timeout_ms(timeout + std::chrono::seconds(1))));
  if (!ev) return make_error(Errc::unavailable, std::string(what) + ": no answer in time");
  if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(to_errc(rd_kafka_event_error(ev.get())),
                      std::string(what) + ": " + rd_kafka_event_error_string(ev.get()));
  }
  return ev;
}

struct NewTopicsDeleter {
  void operator()(std::vector<rd_kafka_NewTopic_t*>* v) const {
    rd_kafka_NewTopic_destroy_array(v->data(), v->size());
    delete v;
  }
};

Result<std::unique_ptr<std::vector<rd_kafka_NewTopic_t*>, NewTopicsDeleter>> new_topics(
    const std::vector<TopicSpec>& specs) {
  std::unique_ptr<std::vector<rd_kafka_NewTopic_t*>, NewTopicsDeleter> out(
      new std::vector<rd_kafka_NewTopic_t*>());
  std::array<char, 256> err{};
  for (const auto& spec : specs) {
    // -1: the broker's default.replication.factor (1 on our single-node broker).
    auto* t = rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, -1, err.data(), err.size());
    if (t == nullptr) return make_error(Errc::invalid_argument, spec.name + ": " + err.data());
    out->push_back(t);
    rd_kafka_NewTopic_set_config(t, "cleanup.policy", spec.compacted ? "compact" : "delete");
    if (!spec.compacted) {
      rd_kafka_NewTopic_set_config(t, "retention.ms", std::to_string(spec.retention_ms).c_str());
    }
    rd_kafka_NewTopic_set_config(t, "max.message.bytes",
                                 std::to_string(spec.max_message_bytes).c_str());
  }
  return out;
}

Status create_topics(rd_kafka_t* rk, const std::vector<TopicSpec>& specs,
                     std::chrono::milliseconds timeout) {
  auto topics = new_topics(specs);
  if (!topics) return topics.error();
  auto options = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout);
  QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_CreateTopics(rk, (*topics)->data(), (*topics)->size(), options.get(), queue.get());
  auto ev = admin_result(queue.get(), timeout, "CreateTopics");
  if (!ev) return ev.error();
  size_t count = 0;
  const auto* results = rd_kafka_CreateTopics_result_topics(
      rd_kafka_event_CreateTopics_result(ev->get()), &count);
  std::string failures;
  Errc code = Errc::internal;
  for (size_t i = 0; i < count; ++i) {
    const auto err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      continue;
    }
    code = to_errc(err);
    const char* why = rd_kafka_topic_result_error_string(results[i]);
    failures += std::string(rd_kafka_topic_result_name(results[i])) + ": " +
                (why ? why : rd_kafka_err2str(err)) + "; ";
  }
  if (!failures.empty()) return make_error(code, "CreateTopics: " + failures);
  return {};
}

std::int64_t to_int(const char* text) {
  std::int64_t v = -1;
  if (text != nullptr) std::from_chars(text, text + std::char_traits<char>::length(text), v);
  return v;
}

Status describe_configs(rd_kafka_t* rk, TopicSpec& spec, std::chrono::milliseconds timeout) {
  auto options = admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout);
  QueuePtr queue(rd_kafka_queue_new(rk));
  auto* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, spec.name.c_str());
  rd_kafka_DescribeConfigs(rk, &resource, 1, options.get(), queue.get());
  rd_kafka_ConfigResource_destroy(resource);
  auto ev = admin_result(queue.get(), timeout, "DescribeConfigs");
  if (!ev) return ev.error();
  size_t count = 0;
  const auto* resources = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(ev->get()), &count);
  if (count != 1) return make_error(Errc::internal, "DescribeConfigs: unexpected answer");
  if (const auto err = rd_kafka_ConfigResource_error(resources[0])) {
    return to_error(err, "DescribeConfigs " + spec.name);
  }
  size_t n = 0;
  const auto* entries = rd_kafka_ConfigResource_configs(resources[0], &n);
  for (size_t i = 0; i < n; ++i) {
    const std::string_view name = rd_kafka_ConfigEntry_name(entries[i]);
    const char* value = rd_kafka_ConfigEntry_value(entries[i]);
    if (name == "cleanup.policy") {
      spec.compacted = value != nullptr && std::string_view(value).find("compact") !=
                                               std::string_view::npos;
    } else if (name == "retention.ms") {
      spec.retention_ms = to_int(value);
    } else if (name == "max.message.bytes") {
      spec.max_message_bytes = static_cast<int>(to_int(value));
    }
  }
  return {};
}

// The specs with their names as the broker knows them (topic_prefix()).
std::vector<TopicSpec> with_prefix(std::vector<TopicSpec> specs) {
  for (auto& spec : specs) spec.name = prefixed(spec.name);
  return specs;
}

Result<TopicSpec> describe_partitions(rd_kafka_t* rk, std::string_view name,
                                      std::chrono::milliseconds timeout) {
  auto md = fetch_metadata(rk, timeout);
  if (!md) return md.error();
  const auto* t = find_topic(**md, name);
  if (t == nullptr || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    return make_error(Errc::not_found, "no topic " + std::string(name));
  }
  if (t->err != RD_KAFKA_RESP_ERR_NO_ERROR) return to_error(t->err, std::string(name));
  TopicSpec spec;
  spec.name = std::string(unprefixed(name));
  spec.partitions = t->partition_cnt;
  return spec;
}

class ExternalCluster final : public Cluster {
 public:
  explicit ExternalCluster(std::string bootstrap) : bootstrap_(std::move(bootstrap)) {}
  const std::string& bootstrap() const override { return bootstrap_; }
  bool is_mock() const override { return false; }

  Status ensure_topics(const std::vector<TopicSpec>& topics,
                       std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto named = with_prefix(topics);
    auto rk = admin_handle(bootstrap_);
    if (auto created = create_topics(rk.get(), named, timeout); !created) return created;
    return wait_visible(rk.get(), named, deadline);
  }

  Result<TopicSpec> describe_topic(std::string_view name,
                                   std::chrono::milliseconds timeout) const override {
    auto rk = admin_handle(bootstrap_);
    const auto broker_name = prefixed(name);
    auto spec = describe_partitions(rk.get(), broker_name, timeout);
    if (!spec) return spec;
    spec->name = broker_name;
    if (auto described = describe_configs(rk.get(), *spec, timeout); !described) {
      return described.error();
    }
    spec->name = std::string(name);
    return spec;
  }

 private:
  std::string bootstrap_;
};

// The handle made with test.mock.num.brokers owns the mock brokers; they die with it, which is
// why every producer and consumer on this cluster must be destroyed before the Cluster.
class MockCluster final : public Cluster {
 public:
  explicit MockCluster(std::string spool_dir) {
    std::chrono::seconds retention(24 * 3600);
    for (const auto& spec : default_topics())
      if (spec.name == kUploads) retention = std::chrono::seconds(spec.retention_ms / 1000);
    claims_ = std::make_unique<ClaimStore>(std::move(spool_dir), retention);
    auto conf = make_conf("", "loraplane-mock-owner");
    set_conf(conf.get(), "test.mock.num.brokers", "1");
    owner_ = make_handle(RD_KAFKA_PRODUCER, std::move(conf));
    mock_ = rd_kafka_handle_mock_cluster(owner_.get());
    if (mock_ == nullptr) throw std::runtime_error("librdkafka built without the mock cluster");
    bootstrap_ = rd_kafka_mock_cluster_bootstraps(mock_);
  }
  const std::string& bootstrap() const override { return bootstrap_; }
  bool is_mock() const override { return true; }
  ClaimStore* claims() const override { return claims_.get(); }
  DeliveryGate* delivery_gate() const override { return gate_.get(); }

  Status ensure_topics(const std::vector<TopicSpec>& topics,
                       std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto named = with_prefix(topics);
    auto md = fetch_metadata(owner_.get(), timeout);
    if (!md) return md.error();
    for (const auto& spec : named) {
      if (find_topic(**md, spec.name) != nullptr) continue;  // existing ones are left alone
      // The mock keeps no topic configs: compaction, retention and size limits are not
      // enforced here (the producer's own message.max.bytes still is).
      const auto err = rd_kafka_mock_topic_create(mock_, spec.name.c_str(), spec.partitions, 1);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        return to_error(err, "mock topic " + spec.name);
      }
    }
    return wait_visible(owner_.get(), named, deadline);
  }

  Result<TopicSpec> describe_topic(std::string_view name,
                                   std::chrono::milliseconds timeout) const override {
    auto spec = describe_partitions(owner_.get(), prefixed(name), timeout);
    if (!spec) return spec;
    return make_error(Errc::unavailable, "the mock cluster keeps no topic configs");
  }

 private:
  std::unique_ptr<ClaimStore> claims_;  // before the mock: outlives its brokers
  std::unique_ptr<DeliveryGate> gate_ = std::make_unique<DeliveryGate>();
  HandlePtr owner_;
  rd_kafka_mock_cluster_t* mock_ = nullptr;  // owned by owner_
  std::string bootstrap_;
};

}  // namespace
}  // namespace impl

std::unique_ptr<Cluster> Cluster::embedded(std::string spool_dir) {
  return std::make_unique<impl::MockCluster>(std::move(spool_dir));
}

std::unique_ptr<Cluster> Cluster::external(std::string bootstrap) {
  return std::make_unique<impl::ExternalCluster>(std::move(bootstrap));
}

}  // namespace loraplane::kafka
