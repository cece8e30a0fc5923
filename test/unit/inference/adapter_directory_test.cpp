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
  bool more = false;
  BOOST_TEST(dir.list("ten_a", 10, "", more).empty());
  BOOST_TEST(dir.count("ten_a") == 0);
  BOOST_TEST(dir.brief_by_name("ten_b", "llama-3.1-8b-instruct", "bot").has_value());
  BOOST_TEST(dir.count("ten_b") == 1);
  // A stale record for the old tenant changes nothing.
  dir.put(record("ten_a", 1));
  BOOST_TEST(!dir.brief_by_name("ten_a", "llama-3.1-8b-instruct", "bot").has_value());
}

BOOST_AUTO_TEST_CASE(a_name_resolves_to_its_live_adapter_not_to_newer_failed_duplicates) {
  // Four uploads of one name at once: each got its 202, the worker admitted the first and
  // failed the other three (adapter_exists). Their records are newer than the winner's.
  gw::AdapterDirectory dir;
  auto winner = record("ten_a", 1);
  winner.adapter.id = "adp_1";
  dir.put(winner);
  for (const char* id : {"adp_2", "adp_3", "adp_4"}) {
    auto loser = record("ten_a", 1);
    loser.adapter.id = id;
    loser.adapter.status = schema::AdapterStatus::failed;
    dir.put(loser);
  }
  auto brief = dir.brief_by_name("ten_a", "llama-3.1-8b-instruct", "bot");
  BOOST_TEST_REQUIRE(brief.has_value());
  BOOST_TEST(brief->id == "adp_1");
  BOOST_TEST((brief->status == schema::AdapterStatus::ready));
  BOOST_TEST(dir.brief_by_name("ten_a", "llama-3.1-8b-instruct", "bot")->id == "adp_1");
  // Once the live one is deleted, the name still names the newest failed record (409 not
  // ready, not 404), until that one is deleted too.
  dir.hide("adp_1");
  brief = dir.brief_by_name("ten_a", "llama-3.1-8b-instruct", "bot");
  BOOST_TEST_REQUIRE(brief.has_value());
  BOOST_TEST(brief->id == "adp_4");
  BOOST_TEST((brief->status == schema::AdapterStatus::failed));
}

BOOST_AUTO_TEST_SUITE_END()
