// Cluster-independent behaviour checks of common/kafka.hpp (see kafka_checks.hpp).
#include "test/unit/kafka/kafka_checks.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <thread>

#include "common/asio.hpp"
#include "common/kafka_lanes.hpp"
#include "common/kafka_owned.hpp"
#include "common/kafka_range.hpp"
#include "common/metrics.hpp"

namespace loraplane::kafka::test {

using namespace std::chrono_literals;

namespace {

constexpr auto kDeliver = 30s;  // generous: the first group join alone takes ~3 s on the mock
// The mock coordinator holds a rejoin after the last member left for session timeout - 1 s.
constexpr auto kSession = 6000ms;

std::string describe(const Status& s) { return s.ok() ? "ok" : s.error().message; }

std::vector<std::string> values(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.value);
  return out;
}

void produce_values(Producer& producer, const std::string& topic, const std::string& key,
                    int first, int count) {
  for (int i = first; i < first + count; ++i) {
    const auto st = produce_sync(producer, topic, key, "m" + std::to_string(i));
    BOOST_REQUIRE_MESSAGE(st.ok(), describe(st));
  }
}

}  // namespace

void Seen::add(const Message& m) {
  std::lock_guard lock(mutex_);
  messages_.push_back(m);
  cv_.notify_all();
}

std::vector<Message> Seen::snapshot() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

std::size_t Seen::size() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

bool Seen::wait_for(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
}

std::string unique_name(std::string_view stem) {
  std::random_device rd;
  return fmt::format("{}-{:08x}{:04x}", stem, rd(), rd() & 0xffff);
}

Status produce_sync(Producer& producer, std::string_view topic, std::string_view key,
                    std::optional<std::string_view> value, std::vector<Header> headers) {
  asio::io_context io;
  std::optional<Status> result;
  asio::co_spawn(io, produce(producer, topic, key, value, std::move(headers)),
                 [&result](std::exception_ptr e, Status s) {
                   if (e) std::rethrow_exception(e);
                   result = std::move(s);
                 });
  io.run();
  return result ? *result : Status(make_error(Errc::internal, "produce never completed"));
}

namespace {
awaitable<void> produce_delivered_into(Producer& producer, std::string topic, std::string key,
                                       std::optional<std::string> value,
                                       std::vector<Header> headers,
                                       std::optional<Result<Delivered>>& out) {
  out = co_await produce_delivered(producer, topic, key, value, std::move(headers));
}
}  // namespace

Result<Delivered> produce_delivered_sync(Producer& producer, std::string_view topic,
                                         std::string_view key,
                                         std::optional<std::string_view> value,
                                         std::vector<Header> headers) {
  asio::io_context io;
  std::optional<Result<Delivered>> result;
  asio::co_spawn(io,
                 produce_delivered_into(producer, std::string(topic), std::string(key),
                                        value ? std::optional<std::string>(*value) : std::nullopt,
                                        std::move(headers), result),
                 [](std::exception_ptr e) {
                   if (e) std::rethrow_exception(e);
                 });
  io.run();
  if (!result) return make_error(Errc::internal, "produce never completed");
  return std::move(*result);
}

namespace {
awaitable<void> produce_sequentially(Producer& producer, std::string topic, int count,
                                     std::vector<double>& latencies_us) {
  for (int i = 0; i < count; ++i) {
    const auto started = std::chrono::steady_clock::now();
    const auto st = co_await produce(producer, topic, "key", "value");
    const auto took = std::chrono::steady_clock::now() - started;
    if (!st.ok()) throw std::runtime_error(st.error().message);
    latencies_us.push_back(std::chrono::duration<double, std::micro>(took).count());
  }
}
}  // namespace

void report_produce_latency(Producer& producer, const std::string& topic) {
  constexpr int kCount = 200;
  asio::io_context io;
  std::vector<double> us;
  asio::co_spawn(io, produce_sequentially(producer, topic, kCount, us),
                 [](std::exception_ptr e) {
                   if (e) std::rethrow_exception(e);
                 });
  io.run();
  BOOST_REQUIRE_EQUAL(us.size(), std::size_t{kCount});
  const double mean = std::accumulate(us.begin(), us.end(), 0.0) / kCount;
  std::sort(us.begin(), us.end());
  BOOST_TEST_MESSAGE(fmt::format(
      "awaitable produce latency, {} sequential acks=all messages (linger 5 ms): mean {:.0f} us, "
      "p50 {:.0f} us, p99 {:.0f} us, max {:.0f} us",
      kCount, mean, us[kCount / 2], us[kCount * 99 / 100], us.back()));
}

void create_topic(Cluster& cluster, const std::string& name, int partitions,
                  int max_message_bytes) {
  const TopicSpec spec{name, partitions, false, 3600 * 1000, max_message_bytes};
  const auto st = cluster.ensure_topics({spec}, kDeliver);
  BOOST_REQUIRE_MESSAGE(st.ok(), describe(st));
}

void check_roundtrip(Cluster& cluster, const std::string& prefix) {
  const auto topic = prefix + ".roundtrip";
  create_topic(cluster, topic, 3);
  auto producer = Producer::create(cluster, {});
  const auto st = produce_sync(*producer, topic, "tenant-1", "hello",
                               {{"trace-id", "abc"}, {"content-type", "text/plain"}});
  BOOST_REQUIRE_MESSAGE(st.ok(), describe(st));
  const auto where = produce_delivered_sync(*producer, topic, "tenant-2", "located");
  BOOST_REQUIRE_MESSAGE(where.ok(), (where.ok() ? std::string() : where.error().message));
  BOOST_TEST(where->partition >= 0);
  BOOST_TEST(where->partition < 3);
  BOOST_TEST(where->offset >= 0);

  Seen seen;
  auto consumer = Consumer::start(
      cluster, {"roundtrip", unique_name(prefix + ".g"), {topic}, 100ms},
      [&seen](const Message& m) {
        seen.add(m);
        return Handled::done;
      });
  BOOST_REQUIRE(seen.wait_for(2, kDeliver));
  const auto got = seen.snapshot();
  const auto m = got[0].key == "tenant-1" ? got[0] : got[1];
  const auto& located = got[0].key == "tenant-2" ? got[0] : got[1];
  BOOST_TEST(located.value == "located");
  BOOST_TEST(located.partition == where->partition);
  BOOST_TEST(located.offset == where->offset);
  BOOST_TEST(m.topic == topic);
  BOOST_TEST(m.key == "tenant-1");
  BOOST_TEST(m.value == "hello");
  BOOST_TEST(!m.tombstone);
  BOOST_TEST(m.timestamp_ms > 0);
  BOOST_TEST(m.headers.size() == 2u);
  BOOST_REQUIRE(m.header("trace-id") != nullptr);
  BOOST_TEST(*m.header("trace-id") == "abc");
  BOOST_REQUIRE(m.header("content-type") != nullptr);
  BOOST_TEST(*m.header("content-type") == "text/plain");
  BOOST_TEST(m.header("missing") == nullptr);
  BOOST_TEST(consumer->wait_caught_up(kDeliver));
  consumer->stop();
  consumer->stop();  // idempotent
}

void check_tombstone(Cluster& cluster, const std::string& prefix) {
  const auto topic = prefix + ".tombstone";
  create_topic(cluster, topic, 1);
  auto producer = Producer::create(cluster, {});
  BOOST_REQUIRE(produce_sync(*producer, topic, "a", std::nullopt).ok());
  BOOST_REQUIRE(produce_sync(*producer, topic, "b", "").ok());
  BOOST_REQUIRE(produce_sync(*producer, topic, "c", "x").ok());

  Seen seen;
  auto reader = Consumer::start(cluster, {"tombstone", "", {topic}, 100ms},
                                [&seen](const Message& m) {
                                  seen.add(m);
                                  return Handled::done;
                                });
  BOOST_REQUIRE(seen.wait_for(3, kDeliver));
  const auto got = seen.snapshot();
  BOOST_TEST(got[0].key == "a");
  BOOST_TEST(got[0].tombstone);
  BOOST_TEST(got[0].value.empty());
  BOOST_TEST(got[1].key == "b");
  BOOST_TEST(!got[1].tombstone);
  BOOST_TEST(got[1].value.empty());
  BOOST_TEST(got[2].key == "c");
  BOOST_TEST(!got[2].tombstone);
  BOOST_TEST(got[2].value == "x");
}

void check_retry_redelivers(Cluster& cluster, const std::string& prefix) {
  const auto topic = prefix + ".retry";
  create_topic(cluster, topic, 1);
  auto producer = Producer::create(cluster, {});
  produce_values(*producer, topic, "k", 0, 3);

  Seen seen;
  bool refused = false;  // only touched on the consumer thread
  auto consumer = Consumer::start(cluster, {"retry", unique_name(prefix + ".g"), {topic}, 100ms},
                                  [&](const Message& m) {
                                    seen.add(m);
                                    if (m.value == "m1" && !refused) {
                                      refused = true;
                                      return Handled::retry;
                                    }
                                    return Handled::done;
                                  });
  BOOST_REQUIRE(seen.wait_for(4, kDeliver));
  BOOST_TEST(consumer->wait_caught_up(kDeliver));
  consumer->stop();
  const auto got = seen.snapshot();
  const std::vector<std::string> expected{"m0", "m1", "m1", "m2"};
  BOOST_TEST(values(got) == expected, boost::test_tools::per_element());
  BOOST_TEST(got[1].offset == got[2].offset);
}

void check_group_resumes_after_commit(Cluster& cluster, const std::string& prefix) {
  const auto topic = prefix + ".resume";
  const auto group = unique_name(prefix + ".g");
  create_topic(cluster, topic, 1);
  auto producer = Producer::create(cluster, {});
  produce_values(*producer, topic, "k", 0, 10);

  Seen first;
  auto a = Consumer::start(cluster, {"resume-a", group, {topic}, 100ms, kSession},
                           [&first](const Message& m) {
                             first.add(m);
                             return m.value == "m5" ? Handled::retry : Handled::done;
                           });
  BOOST_REQUIRE(first.wait_for(7, kDeliver));  // m0..m4 done, m5 refused at least twice
  a->stop();
  const auto seen_a = values(first.snapshot());
  BOOST_TEST(std::set<std::string>(seen_a.begin(), seen_a.end()) ==
                 (std::set<std::string>{"m0", "m1", "m2", "m3", "m4", "m5"}),
             "first member never went past the refused message");

  Seen second;
  auto b = Consumer::start(cluster, {"resume-b", group, {topic}, 100ms, kSession},
                           [&second](const Message& m) {
                             second.add(m);
                             return Handled::done;
                           });
  BOOST_REQUIRE_MESSAGE(second.wait_for(5, kDeliver),
                        "second member saw " << second.size() << " messages");
  BOOST_TEST(b->wait_caught_up(kDeliver));
  std::this_thread::sleep_for(300ms);  // room for a wrong redelivery to show up
  b->stop();
  const std::vector<std::string> expected{"m5", "m6", "m7", "m8", "m9"};
  BOOST_TEST(values(second.snapshot()) == expected, boost::test_tools::per_element());
}

void check_group_shares_partitions(Cluster& cluster, const std::string& prefix) {
  const auto topic = prefix + ".shared";
  const auto group = unique_name(prefix + ".g");
  create_topic(cluster, topic, 4);
  auto producer = Producer::create(cluster, {});
  auto done = [](Seen& seen) {
    return [&seen](const Message& m) {
      seen.add(m);
      return Handled::done;
    };
  };
  Seen a_seen;
  Seen b_seen;
  auto a = Consumer::start(cluster, {"shared-a", group, {topic}, 100ms, kSession}, done(a_seen));
  BOOST_REQUIRE(a->wait_caught_up(kDeliver));  // joined, owns all four partitions
  auto b = Consumer::start(cluster, {"shared-b", group, {topic}, 100ms, kSession}, done(b_seen));

  // Keep producing until the rebalance handed the new member something.
  int produced = 0;
  const auto deadline = std::chrono::steady_clock::now() + kDeliver;
  while (b_seen.size() == 0 && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 4; ++i, ++produced) {
      const auto st = produce_sync(*producer, topic, "key-" + std::to_string(produced),
                                   std::to_string(produced));
      BOOST_REQUIRE_MESSAGE(st.ok(), describe(st));
    }
    std::this_thread::sleep_for(200ms);
  }
  BOOST_REQUIRE_MESSAGE(b_seen.size() > 0, "the second member never got a partition");
  const auto all_seen = [&] { return a_seen.size() + b_seen.size(); };
  for (auto until = std::chrono::steady_clock::now() + kDeliver;
       all_seen() < std::size_t(produced) && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(50ms);
  }
  std::this_thread::sleep_for(300ms);  // room for a wrong redelivery to show up
  a->stop();
  b->stop();

  std::multiset<std::string> handled;
  for (const auto& m : a_seen.snapshot()) handled.insert(m.value);
  for (const auto& m : b_seen.snapshot()) handled.insert(m.value);
  // A broker accepts the old owner's commits until the new assignment is synced, so nothing is
  // handled twice. librdkafka's mock coordinator refuses commits (REBALANCE_IN_PROGRESS) from the
  // moment the new member joins, so there the promise is only at-least-once.
  const bool exactly_once = !cluster.is_mock();
  for (int i = 0; i < produced; ++i) {
    const auto count = handled.count(std::to_string(i));
    BOOST_TEST((exactly_once ? count == 1u : count >= 1u), "message " << i << " handled " << count
                                                                        << " times");
  }
  BOOST_TEST_MESSAGE("group of two shared " << produced << " messages: " << a_seen.size()
                                            << " + " << b_seen.size() << " handled");
}

void check_table_readers(Cluster& cluster, const std::string& prefix) {
  const auto topic = prefix + ".table";
  create_topic(cluster, topic, 4);

  Seen early;
  auto reader0 = Consumer::start(cluster, {"table-0", "", {topic}, 100ms},
                                 [&early](const Message& m) {
                                   early.add(m);
                                   return Handled::done;
                                 });
  BOOST_TEST(reader0->wait_caught_up(kDeliver), "an empty topic counts as caught up");

  auto producer = Producer::create(cluster, {});
  constexpr int kCount = 20;
  for (int i = 0; i < kCount; ++i) {
    const auto st = produce_sync(*producer, topic, "key-" + std::to_string(i), std::to_string(i));
    BOOST_REQUIRE_MESSAGE(st.ok(), describe(st));
  }

  Seen seen1;
  Seen seen2;
  auto handler_for = [](Seen& seen) {
    return [&seen](const Message& m) {
      seen.add(m);
      return Handled::done;
    };
  };
  auto reader1 = Consumer::start(cluster, {"table-1", "", {topic}, 100ms}, handler_for(seen1));
  auto reader2 = Consumer::start(cluster, {"table-2", "", {topic}, 100ms}, handler_for(seen2));
  BOOST_REQUIRE(reader1->wait_caught_up(kDeliver));
  BOOST_REQUIRE(reader2->wait_caught_up(kDeliver));
  // Caught up means the state is complete: everything produced before start was handled.
  BOOST_TEST(seen1.size() == std::size_t{kCount});
  BOOST_TEST(seen2.size() == std::size_t{kCount});
  BOOST_TEST(early.wait_for(kCount, kDeliver));

  std::set<std::int32_t> partitions;
  std::set<std::string> keys;
  for (const auto& m : seen1.snapshot()) {
    partitions.insert(m.partition);
    keys.insert(m.key);
    BOOST_TEST(m.key == "key-" + m.value);
  }
  BOOST_TEST(keys.size() == std::size_t{kCount});
  BOOST_TEST(partitions.size() > 1u, "keys spread over partitions");

  const auto text = metrics::serialize();
  BOOST_TEST(text.find("loraplane_kafka_consumed_total{topic=\"" + topic + "\"}") !=
             std::string::npos);
  BOOST_TEST(text.find("loraplane_kafka_consumer_lag{consumer=\"table:table-1\",partition=\"0\","
                       "topic=\"" + topic + "\"} 0") != std::string::npos);
}

void check_producer_size_limit(Cluster& cluster, const std::string& prefix) {
  const auto topic = prefix + ".size";
  create_topic(cluster, topic, 1);
  ProducerOptions options;
  options.max_message_bytes = 64 * 1024;
  options.delivery_timeout = 10s;
  auto producer = Producer::create(cluster, options);

  const std::string small(32 * 1024, 's');
  const auto ok = produce_sync(*producer, topic, "k", small);
  BOOST_TEST(ok.ok(), describe(ok));

  const std::string big(100 * 1024, 'b');
  const auto started = std::chrono::steady_clock::now();
  const auto st = produce_sync(*producer, topic, "k", big);
  const auto took = std::chrono::steady_clock::now() - started;
  BOOST_REQUIRE(!st.ok());
  BOOST_TEST(static_cast<int>(st.error().code) == static_cast<int>(Errc::limit_exceeded),
             st.error().message);
  BOOST_TEST_MESSAGE("oversized produce failed after "
                     << std::chrono::duration_cast<std::chrono::microseconds>(took).count()
                     << " us: " << st.error().message);
}

void check_owned_payloads(Cluster& cluster, const std::string& prefix) {
  const auto topic = prefix + ".owned";
  create_topic(cluster, topic, 1);
  auto producer = Producer::create(cluster, {});
  constexpr int kMessages = 12;
  constexpr std::size_t kBytes = 256 * 1024;  // well over librdkafka's message.copy.max.bytes
  auto value_of = [](int i) {
    std::string v(kBytes, '\0');
    for (std::size_t j = 0; j < kBytes; ++j) v[j] = static_cast<char>((j * 31 + i * 7) & 0xff);
    return v;
  };
  struct Reports {  // outlives this frame if a report comes late
    std::mutex mu;
    std::condition_variable all_in;
    int count = 0;
    std::vector<std::int64_t> offsets = std::vector<std::int64_t>(kMessages, -1);
    std::vector<std::string> errors;
  };
  auto reports = std::make_shared<Reports>();
  for (int i = 0; i < kMessages; ++i) {
    const bool handed_over = produce_owned(
        *producer, topic, "upload", value_of(i), {{"index", std::to_string(i)}},
        [reports, i](Result<Delivered> d) {
          std::lock_guard lock(reports->mu);
          if (d)
            reports->offsets[i] = d->offset;
          else
            reports->errors.push_back(d.error().message);
          ++reports->count;
          reports->all_in.notify_all();
        });
    BOOST_TEST(handed_over, "payload " << i << " was copied, not handed over");
  }
  std::int64_t first = 0;
  std::int64_t last = 0;
  {
    std::unique_lock lock(reports->mu);
    BOOST_REQUIRE(reports->all_in.wait_for(lock, 30s, [&] { return reports->count == kMessages; }));
    BOOST_REQUIRE_MESSAGE(reports->errors.empty(),
                          (reports->errors.empty() ? std::string() : reports->errors.front()));
    first = *std::min_element(reports->offsets.begin(), reports->offsets.end());
    last = *std::max_element(reports->offsets.begin(), reports->offsets.end());
  }
  int seen = 0;
  bool intact = true;
  const auto st = read_range(cluster, topic, 0, first, last, [&](const Message& m) {
    const std::string* index = m.header("index");
    intact = intact && index != nullptr && *index == std::to_string(seen) &&
             m.value == value_of(seen);
    ++seen;
    return Status{};
  });
  BOOST_TEST(st.ok(), describe(st));
  BOOST_TEST(seen == kMessages);
  BOOST_TEST(intact);
}

void check_lanes(Cluster& cluster, const std::string& prefix) {
  const auto topic = prefix + ".lanes";
  const auto group = unique_name(prefix + ".g");
  create_topic(cluster, topic, 2);
  auto producer = Producer::create(cluster, {});
  // A key for each partition (the partitioner decides; try keys until both are covered).
  std::string key_of[2];
  for (int i = 0; key_of[0].empty() || key_of[1].empty(); ++i) {
    BOOST_REQUIRE(i < 100);
    const std::string key = "k" + std::to_string(i);
    auto where = produce_delivered_sync(*producer, topic, key, "probe");
    BOOST_REQUIRE(where.ok());
    if (key_of[where.value().partition].empty()) key_of[where.value().partition] = key;
  }
  for (const auto* v : {"a0", "a1", "a2"}) BOOST_REQUIRE(produce_sync(*producer, topic, key_of[0], v).ok());
  for (const auto* v : {"b0", "b1", "b2"}) BOOST_REQUIRE(produce_sync(*producer, topic, key_of[1], v).ok());

  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  bool refused = false;
  Seen seen;
  auto handler = [&](std::size_t, const Message& m) {
    if (m.value == "probe") return Handled::done;
    seen.add(m);
    std::unique_lock lock(mutex);
    if (m.value == "a0") cv.wait(lock, [&] { return release; });  // held until the test says
    if (m.value == "b1" && !refused) {
      refused = true;
      return Handled::retry;
    }
    return Handled::done;
  };
  auto a = start_lanes(cluster, {"lanes-a", group, {topic}, 100ms, kSession}, 2, handler);
  // While a0 is held, partition 1 goes on: b0, b1 (refused once), b1, b2.
  BOOST_REQUIRE_MESSAGE(seen.wait_for(5, kDeliver), "saw " << seen.size());
  auto partition_of = [](const std::vector<Message>& got, const std::string& key) {
    std::vector<std::string> out;
    for (const auto& m : got)
      if (m.key == key) out.push_back(m.value);
    return out;
  };
  auto held = seen.snapshot();
  BOOST_TEST(partition_of(held, key_of[0]) == (std::vector<std::string>{"a0"}), boost::test_tools::per_element());
  BOOST_TEST(partition_of(held, key_of[1]) == (std::vector<std::string>{"b0", "b1", "b1", "b2"}),
             boost::test_tools::per_element());
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_all();
  BOOST_REQUIRE(seen.wait_for(7, kDeliver));
  BOOST_TEST(a->wait_caught_up(kDeliver));
  a->stop();
  BOOST_TEST(partition_of(seen.snapshot(), key_of[0]) == (std::vector<std::string>{"a0", "a1", "a2"}),
             boost::test_tools::per_element());

  // Everything above was committed: the next member sees only the new message.
  BOOST_REQUIRE(produce_sync(*producer, topic, key_of[0], "z").ok());
  Seen later;
  auto b = start_lanes(cluster, {"lanes-b", group, {topic}, 100ms, kSession}, 2,
                       [&later](std::size_t, const Message& m) {
                         later.add(m);
                         return Handled::done;
                       });
  BOOST_REQUIRE(later.wait_for(1, kDeliver));
  BOOST_TEST(b->wait_caught_up(kDeliver));
  std::this_thread::sleep_for(300ms);  // room for a wrong redelivery to show up
  b->stop();
  BOOST_TEST(values(later.snapshot()) == (std::vector<std::string>{"z"}), boost::test_tools::per_element());
}

}  // namespace loraplane::kafka::test
