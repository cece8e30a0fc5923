// validate_test: the validate worker on the embedded mock cluster, plus its chunk assembler.
#define BOOST_TEST_MODULE validate
#include <boost/test/unit_test.hpp>

#include "test/unit/validate/harness.hpp"

namespace loraplane::validate::testing {

bool TestCluster::available() { return true; }
std::unique_ptr<kafka::Cluster> TestCluster::make() { return kafka::Cluster::embedded(); }
std::string TestCluster::group_id() { return "loraplane-validate"; }

}  // namespace loraplane::validate::testing

namespace {

// The shared worker and cluster go away before static destruction (the mock cluster must
// outlive every client made from it).
struct DestroyHarness {
  ~DestroyHarness() { loraplane::validate::testing::Harness::destroy(); }
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(DestroyHarness);
