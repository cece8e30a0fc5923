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

// A name resolves through an index kept beside the records: a later record under another name
// moves it, a tombstone takes it out, and a deleting record hides it, as the records say.
BOOST_AUTO_TEST_CASE(the_name_lookup_follows_renames_tombstones_and_deletes) {
  gw::AdapterDirectory dir;
  dir.put(record("ten_a", 1));
  BOOST_TEST(dir.brief_by_name("ten_a", "llama-3.1-8b-instruct", "bot")->id == "adp_1");
  auto renamed = record("ten_a", 2);
  renamed.adapter.name = "bot-2";
  dir.put(renamed);
  BOOST_TEST(!dir.brief_by_name("ten_a", "llama-3.1-8b-instruct", "bot").has_value());
  BOOST_TEST(dir.brief_by_name("ten_a", "llama-3.1-8b-instruct", "bot-2")->id == "adp_1");
  BOOST_TEST(!dir.brief_by_name("ten_a", "llama-3.1-70b-instruct", "bot-2").has_value());
  auto deleting = renamed;
  deleting.seq = 3;
  deleting.adapter.status = schema::AdapterStatus::deleting;
  dir.put(deleting);
  BOOST_TEST(!dir.brief_by_name("ten_a", "llama-3.1-8b-instruct", "bot-2").has_value());
  BOOST_TEST(dir.count("ten_a") == 0);
  dir.apply("adp_1", std::nullopt);
  BOOST_TEST(!dir.brief_by_name("ten_a", "llama-3.1-8b-instruct", "bot-2").has_value());
  // The name is free for a new adapter, found at once.
  auto fresh = record("ten_a", 1);
  fresh.adapter.id = "adp_9";
  fresh.adapter.name = "bot-2";
  dir.put(fresh);
  BOOST_TEST(dir.brief_by_name("ten_a", "llama-3.1-8b-instruct", "bot-2")->id == "adp_9");
  BOOST_TEST(dir.count("ten_a") == 1);
}

BOOST_AUTO_TEST_SUITE_END()
