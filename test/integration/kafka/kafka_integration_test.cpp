// Integration suite of the Kafka seam against the real broker named by LORAPLANE_KAFKA (start one
// with `eval "$(ops/kafka/start)"`): the same produce/consume/commit/table-reader checks the unit
// suite runs on the mock cluster, plus what only a broker enforces — topic configs from
// ops/kafka/start and per-topic size limits. Every run uses fresh topic and group names.
#define BOOST_TEST_MODULE kafka_integration
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "test/support/broker.hpp"
#include "common/kafka.hpp"
#include "common/kafka_range.hpp"
#include "test/unit/kafka/kafka_checks.hpp"

using namespace std::chrono_literals;
namespace kafka = loraplane::kafka;
namespace kt = loraplane::kafka::test;
using loraplane::Errc;

namespace {

using loraplane::test::broker;
using loraplane::test::BrokerGiven;

struct RealCluster {
  std::unique_ptr<kafka::Cluster> cluster = kafka::Cluster::external(broker());
  std::string prefix = kt::unique_name("it");
};

std::string describe(const loraplane::Status& s) { return s.ok() ? "ok" : s.error().message; }

}  // namespace

BOOST_AUTO_TEST_SUITE(real_broker, *boost::unit_test::precondition(BrokerGiven()))

BOOST_AUTO_TEST_CASE(roundtrip) {
  RealCluster c;
  kt::check_roundtrip(*c.cluster, c.prefix);
}

BOOST_AUTO_TEST_CASE(tombstone) {
  RealCluster c;
  kt::check_tombstone(*c.cluster, c.prefix);
}

BOOST_AUTO_TEST_CASE(retry_redelivers_same_message) {
  RealCluster c;
  kt::check_retry_redelivers(*c.cluster, c.prefix);
}

BOOST_AUTO_TEST_CASE(lanes_hold_up_only_their_own_partition) {
  RealCluster c;
  kt::check_lanes(*c.cluster, c.prefix);
}

BOOST_AUTO_TEST_CASE(second_member_resumes_after_last_commit) {
  RealCluster c;
  kt::check_group_resumes_after_commit(*c.cluster, c.prefix);
}

BOOST_AUTO_TEST_CASE(second_member_takes_over_partitions) {
  RealCluster c;
  kt::check_group_shares_partitions(*c.cluster, c.prefix);
}

BOOST_AUTO_TEST_CASE(table_readers_see_everything) {
  RealCluster c;
  kt::check_table_readers(*c.cluster, c.prefix);
}

BOOST_AUTO_TEST_CASE(oversized_message_fails_fast) {
  RealCluster c;
  kt::check_producer_size_limit(*c.cluster, c.prefix);
}

// On a real broker produce_owned sends from the handed-over buffer (no copy).
BOOST_AUTO_TEST_CASE(owned_payloads_arrive_whole) {
  RealCluster c;
  kt::check_owned_payloads(*c.cluster, c.prefix);
}

BOOST_AUTO_TEST_CASE(produce_latency) {
  RealCluster c;
  const auto topic = c.prefix + ".latency";
  kt::create_topic(*c.cluster, topic, 1);
  auto producer = kafka::Producer::create(*c.cluster, {});
  BOOST_REQUIRE(kt::produce_sync(*producer, topic, "warm", "up").ok());
  kt::report_produce_latency(*producer, topic);
}

// The broker enforces the topic's max.message.bytes even when the producer allows more; the
// delivery fails with limit_exceeded and the producer stays usable.
BOOST_AUTO_TEST_CASE(topic_size_limit_enforced_by_broker) {
  RealCluster c;
  const auto topic = c.prefix + ".small";
  kt::create_topic(*c.cluster, topic, 1, 64 * 1024);
  auto producer = kafka::Producer::create(*c.cluster, {});
  const auto st = kt::produce_sync(*producer, topic, "k", std::string(100 * 1024, 'x'));
  BOOST_REQUIRE(!st.ok());
  BOOST_TEST(static_cast<int>(st.error().code) == static_cast<int>(Errc::limit_exceeded),
             st.error().message);
  const auto after = kt::produce_sync(*producer, topic, "k", "small");
  BOOST_TEST(after.ok(), describe(after));
}

// A range read much larger than the reader's prefetch queue, by a caller slower than the broker
// (as a storage node writing each chunk to disk): the fetcher fills its queue and pauses over
// and over, and every message still arrives exactly once, in order, intact.
BOOST_AUTO_TEST_CASE(range_read_larger_than_the_prefetch_queue) {
  RealCluster c;
  const auto topic = c.prefix + ".range";
  kt::create_topic(*c.cluster, topic, 1);
  auto producer = kafka::Producer::create(*c.cluster, {});
  constexpr int kMessages = 80;
  constexpr std::size_t kBytes = 1u << 20;
  auto value_of = [](int i) { return std::string(kBytes, static_cast<char>('a' + i % 26)); };
  std::int64_t first = -1;
  std::int64_t last = -1;
  for (int i = 0; i < kMessages; ++i) {
    auto d = kt::produce_delivered_sync(*producer, topic, "upload", value_of(i),
                                        {{"index", std::to_string(i)}});
    BOOST_REQUIRE_MESSAGE(d.ok(), (d.ok() ? std::string() : d.error().message));
    if (i == 0) first = d->offset;
    last = d->offset;
  }
  int seen = 0;
  bool intact = true;
  const auto st = kafka::read_range(*c.cluster, topic, 0, first, last, [&](const kafka::Message& m) {
    const std::string* index = m.header("index");
    intact = intact && index != nullptr && *index == std::to_string(seen) &&
             m.value == value_of(seen);
    ++seen;
    std::this_thread::sleep_for(5ms);  // a slow caller: the prefetch queue fills up
    return loraplane::Status{};
  });
  BOOST_TEST(st.ok(), describe(st));
  BOOST_TEST(seen == kMessages);
  BOOST_TEST(intact);
}

// ops/kafka/start created the topics from topics.tsv; they match default_topics().
BOOST_AUTO_TEST_CASE(default_topics_have_expected_configs) {
  RealCluster c;
  for (const auto& want : kafka::default_topics()) {
    BOOST_TEST_CONTEXT("topic " << want.name) {
      const auto got = c.cluster->describe_topic(want.name, 10s);
      BOOST_REQUIRE_MESSAGE(got.ok(), (got.ok() ? std::string() : got.error().message));
      BOOST_TEST(got->partitions == want.partitions);
      BOOST_TEST(got->compacted == want.compacted);
      BOOST_TEST(got->max_message_bytes == want.max_message_bytes);
      if (!want.compacted) BOOST_TEST(got->retention_ms == want.retention_ms);
    }
  }
  for (auto name : {kafka::kAdapters, kafka::kResidency, kafka::kTenants}) {
    const auto got = c.cluster->describe_topic(name, 10s);
    BOOST_TEST((got.ok() && got->compacted), name << " is compacted");
  }
  // Already there: ensure_topics is a no-op success.
  const auto again = c.cluster->ensure_topics(kafka::default_topics(), 30s);
  BOOST_TEST(again.ok(), describe(again));
}

BOOST_AUTO_TEST_CASE(ensure_topics_creates_with_configs) {
  RealCluster c;
  const kafka::TopicSpec spec{c.prefix + ".state", 3, true, 0, 512 * 1024};
  const auto st = c.cluster->ensure_topics({spec}, 30s);
  BOOST_REQUIRE_MESSAGE(st.ok(), describe(st));
  const auto got = c.cluster->describe_topic(spec.name, 10s);
  BOOST_REQUIRE_MESSAGE(got.ok(), (got.ok() ? std::string() : got.error().message));
  BOOST_TEST(got->partitions == 3);
  BOOST_TEST(got->compacted);
  BOOST_TEST(got->max_message_bytes == 512 * 1024);
  const auto missing = c.cluster->describe_topic(c.prefix + ".missing", 10s);
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(static_cast<int>(missing.error().code) == static_cast<int>(Errc::not_found));
}

BOOST_AUTO_TEST_SUITE_END()
