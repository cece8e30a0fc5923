// The distribute worker on the real broker named by LORAPLANE_KAFKA (start one with
// `eval "$(ops/kafka/start)"`): an upload's chunks are range-read from loraplane.uploads as the
// broker stores them, the blob is served, a stored job is acknowledged, and deleting releases
// the blob. Every run works under its own topic prefix, so it neither reads the adapters that
// other suites on the same broker validate nor sends them stored jobs.
#define BOOST_TEST_MODULE distribute_integration
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <iostream>

#include "test/support/broker.hpp"
#include "common/sha256.hpp"
#include "test/unit/distribute/distribute_fixture.hpp"

using namespace loraplane;
using namespace loraplane::distribute;
using namespace loraplane::distribute::test;

namespace {

using loraplane::test::broker;
using loraplane::test::BrokerGiven;

}  // namespace

BOOST_AUTO_TEST_SUITE(real_broker, *boost::unit_test::precondition(BrokerGiven()))

// This run's own topics ("dist-<random>.loraplane.*"), made by the fixture's ensure_topics.
struct OwnTopics {
  OwnTopics() { kafka::set_topic_prefix("dist-" + random_base62(10) + "."); }
  ~OwnTopics() { kafka::set_topic_prefix(""); }
};

BOOST_AUTO_TEST_CASE(stores_serves_and_releases_an_upload) {
  OwnTopics topics;
  Fixture f(kafka::Cluster::external(broker()));
  auto& worker = f.start_worker();
  const std::string run = random_base62(10);
  const std::string adapter_id = "adp_it" + run;
  auto upload = f.produce_upload("upl_it" + run, make_bytes(3 * 1024 * 1024 + 17, 7));
  f.produce_state(Fixture::validated_state(adapter_id, upload, 3));
  BOOST_REQUIRE(Fixture::wait_for([&] { return !f.stored_jobs(adapter_id).empty(); }));
  BOOST_TEST(f.stored_jobs(adapter_id).front().stored->blob_url == worker.blob_url(upload.sha256));

  const auto target = Fixture::blob_target(upload.sha256);
  auto res = f.get(target);
  BOOST_TEST(res.status == 200);
  BOOST_TEST(sha256_hex(res.body) == upload.sha256);
  res = f.get(target, {{"Range", "bytes=1048570-1048580"}});
  BOOST_TEST(res.status == 206);
  BOOST_TEST((res.body == upload.bytes.substr(1'048'570, 11)));

  auto deleting = Fixture::validated_state(adapter_id, upload, 5);
  deleting.adapter.status = schema::AdapterStatus::deleting;
  f.produce_state(deleting);
  BOOST_TEST(Fixture::wait_for([&] { return f.head(target).status == 404; }));
}

BOOST_AUTO_TEST_SUITE_END()
