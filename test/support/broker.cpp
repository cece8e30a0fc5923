#include "test/support/broker.hpp"

#include <cstdlib>
#include <iostream>

namespace loraplane::test {

const char* broker() {
  const char* b = std::getenv("LORAPLANE_KAFKA");
  return b != nullptr && *b != '\0' ? b : nullptr;
}

boost::test_tools::assertion_result BrokerGiven::operator()(boost::unit_test::test_unit_id) const {
  boost::test_tools::assertion_result ok(broker() != nullptr);
  if (!ok) {
    constexpr const char* kWhy =
        "LORAPLANE_KAFKA is not set; start a broker with `eval \"$(ops/kafka/start)\"` to run "
        "this suite";
    ok.message() << kWhy;
    std::cout << "SKIPPED: " << kWhy << std::endl;
  }
  return ok;
}

}  // namespace loraplane::test
