// The gateway's adapter directory: lookups stay within the caller's tenant even when a later
// record of loraplane.adapters names another tenant for the same id. Found by fuzz/resolve.cpp.
#include "gateway/adapter_directory.hpp"

#include <boost/test/unit_test.hpp>

namespace gw = loraplane::gateway;
namespace schema = loraplane::schema;

namespace {

schema::AdapterState record(std::string tenant, std::uint64_t seq) {
  schema::AdapterState s;
  s.tenant_id = std::move(tenant);
  s.seq = seq;
  s.adapter.id = "adp_1";
  s.adapter.name = "bot";
  s.adapter.base_model = "llama-3.1-8b-instruct";
  s.adapter.status = schema::AdapterStatus::ready;
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(adapter_directory)

BOOST_AUTO_TEST_CASE(an_id_moved_to_another_tenant_leaves_the_old_tenants_view) {
  gw::AdapterDirectory dir;
  dir.put(record("ten_a", 1));
  dir.put(record("ten_b", 2));
  BOOST_TEST(!dir.brief_by_name("ten_a", "llama-3.1-8b-instruct", "bot").has_value());
  BOOST_TEST(!dir.find_by_name("ten_a", "llama-3.1-8b-instruct", "bot").has_value());
  bool more = false;
  BOOST_TEST(dir.list("ten_a", 10, "", more).empty());
  BOOST_TEST(dir.count("ten_a") == 0);
  BOOST_TEST(dir.brief_by_name("ten_b", "llama-3.1-8b-instruct", "bot").has_value());
  BOOST_TEST(dir.count("ten_b") == 1);
  // A stale record for the old tenant changes nothing.
  dir.put(record("ten_a", 1));
  BOOST_TEST(!dir.brief_by_name("ten_a", "llama-3.1-8b-instruct", "bot").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
