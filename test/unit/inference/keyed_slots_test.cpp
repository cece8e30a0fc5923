// KeyedSlots: the admission bound behind upload limits (per tenant and per gateway) and the
// per-tenant bound on inference requests in flight.
#include <boost/test/unit_test.hpp>

#include <optional>
#include <vector>

#include "gateway/keyed_slots.hpp"

namespace loraplane::gateway {

BOOST_AUTO_TEST_SUITE(keyed_slots)

BOOST_AUTO_TEST_CASE(a_full_tenant_is_refused_while_others_still_get_slots) {
  KeyedSlots slots(10);
  std::vector<KeyedSlots::Slot> held;
  for (int i = 0; i < 3; ++i) {
    auto a = slots.acquire("ten_a", 3);
    BOOST_TEST_REQUIRE(a.slot.has_value());
    held.push_back(std::move(*a.slot));
  }
  auto refused = slots.acquire("ten_a", 3);
  BOOST_TEST(!refused.slot.has_value());
  BOOST_TEST((refused.refusal == KeyedSlots::Refusal::key_full));
  BOOST_TEST(slots.acquire("ten_b", 3).slot.has_value());  // released at once again
  BOOST_TEST(slots.held() == 3u);
}

BOOST_AUTO_TEST_CASE(the_total_bound_refuses_every_key) {
  KeyedSlots slots(2);
  auto a = slots.acquire("ten_a", 5);
  auto b = slots.acquire("ten_b", 5);
  BOOST_TEST_REQUIRE((a.slot && b.slot));
  auto c = slots.acquire("ten_c", 5);
  BOOST_TEST(!c.slot.has_value());
  BOOST_TEST((c.refusal == KeyedSlots::Refusal::total_full));
}

BOOST_AUTO_TEST_CASE(a_slot_is_given_back_when_destroyed_or_moved_from) {
  KeyedSlots slots(1);
  {
    auto a = slots.acquire("ten_a", 1);
    BOOST_TEST_REQUIRE(a.slot.has_value());
    std::optional<KeyedSlots::Slot> moved(std::move(*a.slot));  // one release, not two
    BOOST_TEST(slots.held() == 1u);
  }
  BOOST_TEST(slots.held() == 0u);
  auto again = slots.acquire("ten_a", 1);
  BOOST_TEST(again.slot.has_value());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::gateway
