// kafka::read_range on the embedded mock cluster: exactly the asked offsets, in order, with
// keys, values and headers; clear errors for a range that never fills.
#define BOOST_TEST_MODULE kafka_range
#include <boost/test/unit_test.hpp>

#include <future>

#include "common/kafka.hpp"
#include "common/kafka_range.hpp"

using namespace loraplane;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  std::unique_ptr<kafka::Cluster> cluster = kafka::Cluster::embedded();
  std::unique_ptr<kafka::Producer> producer;
  Fixture() {
    BOOST_REQUIRE(cluster->ensure_topics({{"range.test", 2, false}}, 10s));
    producer = kafka::Producer::create(*cluster, {});
  }
  // Produces `n` messages with one key (so one partition); returns their offsets.
  std::vector<std::int64_t> produce(int n, const std::string& key) {
    std::vector<std::int64_t> offsets;
    for (int i = 0; i < n; ++i) {
      std::promise<Result<kafka::Delivered>> done;
      producer->produce_delivered("range.test", key, "value-" + std::to_string(i),
                                  {{"index", std::to_string(i)}},
                                  [&done](Result<kafka::Delivered> d) { done.set_value(d); });
      auto d = done.get_future().get();
      BOOST_REQUIRE(d.ok());
      partition = d->partition;
      offsets.push_back(d->offset);
    }
    return offsets;
  }
  std::int32_t partition = -1;
};

}  // namespace

BOOST_AUTO_TEST_CASE(reads_exactly_the_range_in_order) {
  Fixture f;
  auto offsets = f.produce(6, "upload-a");
  std::vector<std::string> seen;
  auto st = kafka::read_range(*f.cluster, "range.test", f.partition, offsets[1], offsets[4],
                              [&](const kafka::Message& m) {
                                BOOST_TEST(m.key == "upload-a");
                                BOOST_TEST(*m.header("index") == std::to_string(seen.size() + 1));
                                seen.push_back(m.value);
                                return Status{};
                              });
  BOOST_TEST_REQUIRE(st.ok());
  BOOST_TEST(seen == (std::vector<std::string>{"value-1", "value-2", "value-3", "value-4"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(visitor_error_stops_the_read) {
  Fixture f;
  auto offsets = f.produce(4, "upload-b");
  int visits = 0;
  auto st = kafka::read_range(*f.cluster, "range.test", f.partition, offsets[0], offsets[3],
                              [&](const kafka::Message&) -> Status {
                                if (++visits == 2) return make_error(Errc::corrupt, "bad chunk");
                                return {};
                              });
  BOOST_TEST(!st.ok());
  BOOST_TEST(st.error().message == "bad chunk");
  BOOST_TEST(visits == 2);
}

BOOST_AUTO_TEST_CASE(a_range_past_the_end_times_out_as_unavailable) {
  Fixture f;
  auto offsets = f.produce(2, "upload-c");
  int visits = 0;
  auto st = kafka::read_range(
      *f.cluster, "range.test", f.partition, offsets[0], offsets[1] + 5,
      [&](const kafka::Message&) {
        ++visits;
        return Status{};
      },
      1500ms);
  BOOST_TEST(!st.ok());
  BOOST_TEST(st.error().code == Errc::unavailable);
  BOOST_TEST(visits == 2);
}

BOOST_AUTO_TEST_CASE(an_empty_range_is_refused) {
  Fixture f;
  auto st = kafka::read_range(*f.cluster, "range.test", 0, 5, 4,
                              [](const kafka::Message&) { return Status{}; });
  BOOST_TEST(st.error().code == Errc::invalid_argument);
}
