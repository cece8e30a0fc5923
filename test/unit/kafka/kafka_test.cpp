// Unit suite of the Kafka seam against librdkafka's in-process mock cluster (one per test), plus
// checks that need no broker at all: the topic catalogue against ops/kafka/topics.tsv, failing
// (not hanging) deliveries to an unreachable cluster, and the bounded producer queue.
#define BOOST_TEST_MODULE kafka
#include <boost/test/unit_test.hpp>

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/asio.hpp"
#include "common/kafka.hpp"
#include "common/kafka_gate.hpp"
#include "common/metrics.hpp"
#include "test/unit/kafka/kafka_checks.hpp"

using namespace std::chrono_literals;
namespace kafka = loraplane::kafka;
namespace kt = loraplane::kafka::test;
using loraplane::Errc;
using loraplane::Status;

namespace {

struct MockCluster {
  std::unique_ptr<kafka::Cluster> cluster = kafka::Cluster::embedded();
  std::string prefix = kt::unique_name("unit");
};

// One delivery report, awaited from the test thread; `calls` counts how often it ran.
struct Report {
  std::promise<loraplane::Result<kafka::Delivered>> promise;
  std::future<loraplane::Result<kafka::Delivered>> future = promise.get_future();
  std::atomic<int> calls{0};

  bool arrived(std::chrono::milliseconds within) {
    return future.wait_for(within) == std::future_status::ready;
  }
};

std::shared_ptr<Report> produce_reported(kafka::Producer& producer, const std::string& topic) {
  auto report = std::make_shared<Report>();
  producer.produce_delivered(topic, "k", "v", {}, [report](loraplane::Result<kafka::Delivered> r) {
    if (report->calls++ == 0) report->promise.set_value(std::move(r));
  });
  return report;
}

// A cluster whose delivery gate holds the reports of `topic` (one partition), and a producer.
struct Gated : MockCluster {
  std::string topic = prefix + ".gated";
  std::unique_ptr<kafka::Producer> producer;
  kafka::DeliveryGate* gate = cluster->delivery_gate();

  explicit Gated(kafka::ProducerOptions options = {}) {
    BOOST_REQUIRE(gate != nullptr);
    kt::create_topic(*cluster, topic, 1);
    gate->gate({topic});
    producer = kafka::Producer::create(*cluster, std::move(options));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(catalogue)

BOOST_AUTO_TEST_CASE(default_topics_match_ops_topics_tsv) {
  const char* source = std::getenv("LORAPLANE_SOURCE_DIR");
  BOOST_REQUIRE_MESSAGE(source != nullptr, "LORAPLANE_SOURCE_DIR is set by ctest");
  std::ifstream tsv(std::string(source) + "/ops/kafka/topics.tsv");
  BOOST_REQUIRE(tsv.good());
  std::string line;
  std::getline(tsv, line);
  BOOST_TEST(line == "name\tpartitions\tcompacted\tretention_ms\tmax_message_bytes");
  std::vector<kafka::TopicSpec> from_file;
  while (std::getline(tsv, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    kafka::TopicSpec spec;
    std::string compacted;
    std::string retention;
    fields >> spec.name >> spec.partitions >> compacted >> retention >> spec.max_message_bytes;
    BOOST_REQUIRE_MESSAGE(!fields.fail(), "bad line: " << line);
    spec.compacted = compacted == "true";
    spec.retention_ms = retention == "-" ? -1 : std::stoll(retention);
    from_file.push_back(spec);
  }
  const auto expected = kafka::default_topics();
  BOOST_REQUIRE_EQUAL(from_file.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    BOOST_TEST_CONTEXT("topic " << expected[i].name) {
      BOOST_TEST(from_file[i].name == expected[i].name);
      BOOST_TEST(from_file[i].partitions == expected[i].partitions);
      BOOST_TEST(from_file[i].compacted == expected[i].compacted);
      BOOST_TEST(from_file[i].max_message_bytes == expected[i].max_message_bytes);
      if (!expected[i].compacted) BOOST_TEST(from_file[i].retention_ms == expected[i].retention_ms);
    }
  }
}

BOOST_AUTO_TEST_CASE(ensure_default_topics_on_mock_is_idempotent) {
  MockCluster m;
  BOOST_TEST(m.cluster->is_mock());
  BOOST_TEST(!m.cluster->bootstrap().empty());
  BOOST_TEST(m.cluster->ensure_topics(kafka::default_topics(), 10s).ok());
  BOOST_TEST(m.cluster->ensure_topics(kafka::default_topics(), 10s).ok());
  const auto described = m.cluster->describe_topic(kafka::kJobs, 10s);
  BOOST_REQUIRE(!described.ok());
  BOOST_TEST(static_cast<int>(described.error().code) == static_cast<int>(Errc::unavailable));
  const auto missing = m.cluster->describe_topic("no.such.topic", 10s);
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(static_cast<int>(missing.error().code) == static_cast<int>(Errc::not_found));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(mock_cluster)

BOOST_AUTO_TEST_CASE(roundtrip) {
  MockCluster m;
  kt::check_roundtrip(*m.cluster, m.prefix);
}

BOOST_AUTO_TEST_CASE(tombstone) {
  MockCluster m;
  kt::check_tombstone(*m.cluster, m.prefix);
}

BOOST_AUTO_TEST_CASE(retry_redelivers_same_message) {
  MockCluster m;
  kt::check_retry_redelivers(*m.cluster, m.prefix);
}

BOOST_AUTO_TEST_CASE(lanes_hold_up_only_their_own_partition) {
  MockCluster m;
  kt::check_lanes(*m.cluster, m.prefix);
}

BOOST_AUTO_TEST_CASE(second_member_resumes_after_last_commit) {
  MockCluster m;
  kt::check_group_resumes_after_commit(*m.cluster, m.prefix);
}

BOOST_AUTO_TEST_CASE(second_member_takes_over_partitions) {
  MockCluster m;
  kt::check_group_shares_partitions(*m.cluster, m.prefix);
}

BOOST_AUTO_TEST_CASE(table_readers_see_everything) {
  MockCluster m;
  kt::check_table_readers(*m.cluster, m.prefix);
}

BOOST_AUTO_TEST_CASE(oversized_message_fails_fast) {
  MockCluster m;
  kt::check_producer_size_limit(*m.cluster, m.prefix);
}

BOOST_AUTO_TEST_CASE(owned_payloads_arrive_whole) {
  MockCluster m;
  kt::check_owned_payloads(*m.cluster, m.prefix);
}

BOOST_AUTO_TEST_CASE(table_reader_on_missing_topic_throws) {
  MockCluster m;
  BOOST_CHECK_THROW(kafka::Consumer::start(*m.cluster, {"t", "", {"no.such.topic"}, 100ms},
                                           [](const kafka::Message&) {
                                             return kafka::Handled::done;
                                           }),
                    std::runtime_error);
}

BOOST_AUTO_TEST_CASE(produce_latency_and_metrics) {
  MockCluster m;
  const auto topic = m.prefix + ".latency";
  kt::create_topic(*m.cluster, topic, 1);
  auto producer = kafka::Producer::create(*m.cluster, {});
  BOOST_REQUIRE(kt::produce_sync(*producer, topic, "warm", "up").ok());

  kt::report_produce_latency(*producer, topic);

  // Many in flight at once: linger batches them.
  constexpr int kBurst = 1000;
  std::atomic<int> ok{0};
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kBurst; ++i) {
    producer->produce(topic, "k" + std::to_string(i), "v", {}, [&ok](Status s) {
      if (s.ok()) ++ok;
    });
  }
  BOOST_TEST(producer->flush(30s));
  const auto took = std::chrono::steady_clock::now() - started;
  BOOST_TEST(ok.load() == kBurst);
  BOOST_TEST_MESSAGE("mock burst of " << kBurst << " acks=all messages delivered in "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                     << " ms");

  const auto text = loraplane::metrics::serialize();
  BOOST_TEST(text.find("loraplane_kafka_produced_total{result=\"ok\",topic=\"" + topic + "\"}") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// The embedded journal's barrier (common/kafka_gate.hpp): a record on a gated topic is reported
// delivered only once the follower has written its offset.
BOOST_AUTO_TEST_SUITE(delivery_gate)

BOOST_AUTO_TEST_CASE(a_gated_report_waits_until_its_offset_is_written) {
  Gated g;
  const auto free_topic = g.prefix + ".free";
  kt::create_topic(*g.cluster, free_topic, 1);
  BOOST_TEST(kt::produce_sync(*g.producer, free_topic, "k", "v").ok(), "other topics pass");

  auto first = produce_reported(*g.producer, g.topic);
  BOOST_TEST(!first->arrived(500ms), "reported before the journal wrote it");
  g.gate->written(g.topic, 0, 0);
  BOOST_REQUIRE(first->arrived(10s));
  auto where = first->future.get();
  BOOST_REQUIRE(where.ok());
  BOOST_TEST(where.value().offset == 0);

  // Offset 1 is not covered by offset 0 being written, but by any later one.
  auto second = produce_reported(*g.producer, g.topic);
  BOOST_TEST(!second->arrived(500ms));
  g.gate->written(g.topic, 0, 7);
  BOOST_REQUIRE(second->arrived(10s));
  BOOST_TEST(second->future.get().ok());
  // Written before it is even produced: reported at once.
  BOOST_TEST(kt::produce_sync(*g.producer, g.topic, "k", "v").ok());
}

BOOST_AUTO_TEST_CASE(a_record_the_journal_never_writes_fails_instead_of_hanging) {
  kafka::ProducerOptions options;
  options.delivery_timeout = 2s;
  Gated g(options);
  // A first record, released, so the one below is not slowed by the topic's first metadata
  // round (the broker must have it well within the delivery timeout).
  auto warm = produce_reported(*g.producer, g.topic);
  g.gate->written(g.topic, 0, 0);
  BOOST_REQUIRE(warm->arrived(30s));
  BOOST_REQUIRE(warm->future.get().ok());
  auto report = produce_reported(*g.producer, g.topic);
  BOOST_REQUIRE(report->arrived(30s));
  auto result = report->future.get();
  BOOST_REQUIRE(!result.ok());
  BOOST_TEST(static_cast<int>(result.error().code) == static_cast<int>(Errc::unavailable));
  BOOST_TEST(result.error().message.find("journal") != std::string::npos, result.error().message);
  const auto text = loraplane::metrics::serialize();
  BOOST_TEST(text.find("result=\"not_journaled\",topic=\"" + g.topic + "\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(flush_counts_held_reports_and_closing_fails_them_once) {
  Gated g;
  auto report = produce_reported(*g.producer, g.topic);
  BOOST_TEST(!g.producer->flush(300ms), "flush returned with a report still held");
  BOOST_TEST(!report->arrived(0ms));
  g.producer.reset();
  BOOST_REQUIRE(report->arrived(0ms));
  BOOST_TEST(!report->future.get().ok());
  g.gate->written(g.topic, 0, 100);  // nothing left to release
  BOOST_TEST(report->calls.load() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(unreachable_cluster)

BOOST_AUTO_TEST_CASE(delivery_times_out_instead_of_hanging) {
  auto cluster = kafka::Cluster::external("127.0.0.1:1");
  kafka::ProducerOptions options;
  options.delivery_timeout = 1500ms;
  auto producer = kafka::Producer::create(*cluster, options);
  const auto started = std::chrono::steady_clock::now();
  const auto st = kt::produce_sync(*producer, "loraplane.jobs", "k", "v");
  const auto took = std::chrono::steady_clock::now() - started;
  BOOST_REQUIRE(!st.ok());
  BOOST_TEST(static_cast<int>(st.error().code) == static_cast<int>(Errc::unavailable),
             st.error().message);
  BOOST_TEST_MESSAGE("undeliverable message failed after "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                     << " ms: " << st.error().message);
}

BOOST_AUTO_TEST_CASE(full_queue_fails_immediately) {
  auto cluster = kafka::Cluster::external("127.0.0.1:1");
  kafka::ProducerOptions options;
  options.queue_max_bytes = 64 * 1024;
  options.delivery_timeout = 1000ms;
  auto producer = kafka::Producer::create(*cluster, options);
  const std::string chunk(10 * 1024, 'c');
  // Accepted messages fail later on the delivery thread, so each callback owns its slot.
  struct Slot {
    std::mutex mutex;
    std::optional<Status> status;
    std::thread::id thread;
  };
  std::optional<Status> refused;
  int accepted = 0;
  for (int i = 0; i < 100 && !refused; ++i) {
    auto slot = std::make_shared<Slot>();
    producer->produce("loraplane.uploads", "k", chunk, {}, [slot](Status s) {
      std::lock_guard lock(slot->mutex);
      slot->status = std::move(s);
      slot->thread = std::this_thread::get_id();
    });
    std::lock_guard lock(slot->mutex);
    if (slot->status && slot->thread == std::this_thread::get_id()) {
      refused = slot->status;  // refused synchronously, inside produce()
    } else {
      ++accepted;
    }
  }
  BOOST_REQUIRE(refused.has_value());
  BOOST_TEST(!refused->ok());
  BOOST_TEST(static_cast<int>(refused->error().code) == static_cast<int>(Errc::unavailable),
             refused->error().message);
  BOOST_TEST(accepted <= 7, "64 KiB queue holds at most six 10 KiB messages");
  BOOST_TEST(accepted >= 1);
}

BOOST_AUTO_TEST_SUITE_END()
