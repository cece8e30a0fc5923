// The worker's bookkeeping: newest record per adapter by seq, tombstones, what a node wants
// for each status, and the de-duplicated work queue with delayed retries.
#include "workers/distribute/sync_state.hpp"

#include <boost/test/unit_test.hpp>

using namespace loraplane;
using namespace loraplane::distribute;
using namespace std::chrono_literals;

namespace {

schema::AdapterState state(std::uint64_t seq, schema::AdapterStatus status, bool validated) {
  schema::AdapterState s;
  s.adapter.id = "adp_x";
  s.adapter.status = status;
  s.seq = seq;
  s.validated = validated;
  s.adapter_config = "{}";
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sync_state)

BOOST_AUTO_TEST_CASE(keeps_the_highest_seq) {
  AdapterTable table;
  BOOST_TEST(table.apply("adp_x", state(2, schema::AdapterStatus::validating, true)));
  BOOST_TEST(!table.apply("adp_x", state(1, schema::AdapterStatus::pending, false)));
  BOOST_TEST(table.find("adp_x")->seq == 2u);
  BOOST_TEST(!table.find("adp_x")->adapter_config.has_value());  // not kept in memory
  BOOST_TEST(table.apply("adp_x", state(3, schema::AdapterStatus::ready, true)));
  BOOST_TEST((table.find("adp_x")->adapter.status == schema::AdapterStatus::ready));
  BOOST_TEST(!table.find("adp_y").has_value());
}

BOOST_AUTO_TEST_CASE(equal_seq_follows_log_order_but_never_revives_a_tombstone) {
  AdapterTable table;
  BOOST_TEST(table.apply("adp_x", state(0, schema::AdapterStatus::pending, false)));
  BOOST_TEST(table.apply("adp_x", state(0, schema::AdapterStatus::validating, true)));
  BOOST_TEST(table.find("adp_x")->validated);
  BOOST_TEST(table.apply("adp_x", std::nullopt));
  BOOST_TEST(!table.find("adp_x").has_value());
  BOOST_TEST(!table.apply("adp_x", std::nullopt));
  BOOST_TEST(!table.apply("adp_x", state(0, schema::AdapterStatus::ready, true)));
  BOOST_TEST(!table.find("adp_x").has_value());
}

BOOST_AUTO_TEST_CASE(what_a_node_wants_per_status) {
  using S = schema::AdapterStatus;
  BOOST_TEST((wanted(state(1, S::validating, true)) == Wanted::keep));
  BOOST_TEST((wanted(state(1, S::ready, true)) == Wanted::keep));
  BOOST_TEST((wanted(state(1, S::validating, false)) == Wanted::ignore));  // an import's
  auto uploaded = state(1, S::validating, false);
  uploaded.upload_location = schema::UploadLocation{"upl_x", 0, 3, 9, 4};
  BOOST_TEST((wanted(uploaded) == Wanted::hold));  // copied while it is being validated
  uploaded.adapter.status = S::failed;
  BOOST_TEST((wanted(uploaded) == Wanted::drop));
  BOOST_TEST((wanted(state(1, S::pending, false)) == Wanted::ignore));
  BOOST_TEST((wanted(state(1, S::deleting, true)) == Wanted::drop));
  BOOST_TEST((wanted(state(1, S::failed, false)) == Wanted::drop));
  BOOST_TEST((wanted(std::nullopt) == Wanted::drop));
}

BOOST_AUTO_TEST_CASE(queue_dedupes_and_delays) {
  WorkQueue q;
  const auto t0 = WorkQueue::Clock::now();
  q.push("a");
  q.push("b");
  q.push("a");
  BOOST_TEST(*q.pop(t0) == "a");
  BOOST_TEST(*q.pop(t0) == "b");
  BOOST_TEST(!q.pop(t0).has_value());
  BOOST_TEST(q.empty());

  q.push_at("c", t0 + 10s);
  BOOST_TEST(!q.pop(t0).has_value());
  BOOST_TEST(!q.empty());
  BOOST_TEST((*q.next_due() == t0 + 10s));
  BOOST_TEST(*q.pop(t0 + 10s) == "c");

  q.push_at("d", t0 + 10s);
  q.push("d");  // a new record brings the retry forward
  BOOST_TEST(*q.pop(t0) == "d");
  BOOST_TEST(q.empty());
}

BOOST_AUTO_TEST_SUITE_END()
