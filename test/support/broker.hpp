// Test helper for suites that need the real Kafka broker of ops/test (env LORAPLANE_KAFKA).
#pragma once

#include <boost/test/unit_test.hpp>

namespace loraplane::test {

// LORAPLANE_KAFKA, or nullptr when unset or empty.
const char* broker();

// Boost.Test precondition: the broker is given; otherwise the suite is skipped and the
// "SKIPPED:" line ctest's SKIP_REGULAR_EXPRESSION looks for is printed.
struct BrokerGiven {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const;
};

}  // namespace loraplane::test
