// validate_integration_test: the validate unit suite's worker cases against the real broker
// named by LORAPLANE_KAFKA (start one with `eval "$(ops/kafka/start)"`); skipped when unset.
// Topic names are the real ones, so each run uses fresh tenant and adapter ids and its own
// consumer group (which starts at the earliest job: jobs of earlier runs are skipped as done).
#define BOOST_TEST_MODULE validate_integration
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <iostream>

#include "common/sha256.hpp"
#include "test/unit/validate/harness.hpp"

namespace loraplane::validate::testing {

namespace {
const char* broker() { return std::getenv("LORAPLANE_KAFKA"); }
}  // namespace

bool TestCluster::available() {
  if (broker() != nullptr && *broker() != '\0') return true;
  // ctest's SKIP_REGULAR_EXPRESSION sees this line.
  std::cout << "SKIPPED: LORAPLANE_KAFKA is not set; start a broker with "
               "`eval \"$(ops/kafka/start)\"` to run this suite"
            << std::endl;
  return false;
}

std::unique_ptr<kafka::Cluster> TestCluster::make() { return kafka::Cluster::external(broker()); }

std::string TestCluster::group_id() {
  static const std::string group = "loraplane-validate-it-" + random_base62(10);
  return group;
}

}  // namespace loraplane::validate::testing

namespace {

struct DestroyHarness {
  ~DestroyHarness() { loraplane::validate::testing::Harness::destroy(); }
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(DestroyHarness);
