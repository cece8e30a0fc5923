// AdapterView and TenantTiers without Kafka: highest seq wins, tombstones stick, which adapters
// hold a name or count against the quota, and close() ending waits.
#include "workers/validate/adapter_view.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <thread>

#include "schema/json.hpp"

using namespace loraplane;
using namespace loraplane::validate;
using schema::AdapterStatus;
using namespace std::chrono_literals;

namespace {

schema::AdapterState record(const std::string& id, std::uint64_t seq, AdapterStatus status,
                            const std::string& name = "a", const std::string& tenant = "t1") {
  schema::AdapterState s;
  s.seq = seq;
  s.tenant_id = tenant;
  s.adapter.id = id;
  s.adapter.name = name;
  s.adapter.base_model = "toy-llama";
  s.adapter.status = status;
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(adapter_view)

BOOST_AUTO_TEST_CASE(the_highest_seq_wins_whatever_arrives_first) {
  AdapterView view;
  view.put(record("adp_1", 3, AdapterStatus::validating));
  view.apply("adp_1", schema::to_json(record("adp_1", 1, AdapterStatus::pending)));
  BOOST_TEST((view.get("adp_1")->adapter.status == AdapterStatus::validating));
  view.apply("adp_1", schema::to_json(record("adp_1", 4, AdapterStatus::ready)));
  BOOST_TEST(view.get("adp_1")->seq == 4u);
  view.apply("adp_1", "not json");  // skipped, not fatal
  view.apply("adp_2", schema::to_json(record("adp_1", 9, AdapterStatus::ready)));  // key ≠ id
  BOOST_TEST(view.get("adp_1")->seq == 4u);
  BOOST_TEST(!view.get("adp_2").has_value());
}

BOOST_AUTO_TEST_CASE(a_tombstone_is_not_undone_by_an_older_record) {
  AdapterView view;
  view.put(record("adp_1", 5, AdapterStatus::deleting));
  view.apply("adp_1", std::nullopt);
  view.apply("adp_1", schema::to_json(record("adp_1", 5, AdapterStatus::deleting)));
  view.apply("adp_1", schema::to_json(record("adp_1", 2, AdapterStatus::validating)));
  BOOST_TEST(!view.get("adp_1").has_value());
  BOOST_TEST(!view.wait_for("adp_1", 1h).has_value());  // gone is an answer: no waiting
  BOOST_TEST(view.admitted_count("t1", "") == 0);
}

BOOST_AUTO_TEST_CASE(names_and_quota_count_admitted_adapters_only) {
  AdapterView view;
  view.put(record("adp_p", 1, AdapterStatus::pending, "pending"));
  view.put(record("adp_v", 2, AdapterStatus::validating, "validating"));
  view.put(record("adp_r", 4, AdapterStatus::ready, "ready"));
  view.put(record("adp_f", 2, AdapterStatus::failed, "failed"));
  view.put(record("adp_d", 5, AdapterStatus::deleting, "deleting"));
  view.put(record("adp_o", 4, AdapterStatus::ready, "ready", "t2"));
  BOOST_TEST(!view.name_holder("t1", "toy-llama", "pending", "adp_x").has_value());
  BOOST_TEST(view.name_holder("t1", "toy-llama", "validating", "adp_x").has_value());
  BOOST_TEST(view.name_holder("t1", "toy-llama", "ready", "adp_x").has_value());
  BOOST_TEST(view.name_holder("t1", "toy-llama", "failed", "adp_x").has_value());
  BOOST_TEST(!view.name_holder("t1", "toy-llama", "deleting", "adp_x").has_value());
  BOOST_TEST(!view.name_holder("t1", "toy-llama", "ready", "adp_r").has_value());  // itself
  BOOST_TEST(!view.name_holder("t1", "other-base", "ready", "adp_x").has_value());
  BOOST_TEST(!view.name_holder("t3", "toy-llama", "ready", "adp_x").has_value());
  BOOST_TEST(view.admitted_count("t1", "adp_x") == 2);  // validating + ready
  BOOST_TEST(view.admitted_count("t1", "adp_r") == 1);
  BOOST_TEST(view.admitted_count("t2", "") == 1);
}

BOOST_AUTO_TEST_CASE(close_ends_waits_at_once) {
  AdapterView view;
  TenantTiers tiers;
  std::thread closer([&] {
    std::this_thread::sleep_for(50ms);
    view.close();
    tiers.close();
  });
  BOOST_TEST(!view.wait_for("adp_never", 1h).has_value());
  BOOST_TEST(!tiers.wait_for("t_never", 1h).has_value());
  closer.join();
}

BOOST_AUTO_TEST_CASE(tenant_tiers_come_from_tenant_records) {
  TenantTiers tiers;
  schema::TenantRecord t;
  t.id = "t1";
  t.name = "one";
  t.tier = schema::Tier::dedicated;
  tiers.apply("tenant/t1", schema::to_json(t));
  tiers.apply("key/pk-prov-abcdefgh", "{}");  // API keys are not ours
  BOOST_TEST((tiers.wait_for("t1", 0ms) == schema::Tier::dedicated));
  tiers.apply("tenant/t1", std::nullopt);
  BOOST_TEST(!tiers.wait_for("t1", 0ms).has_value());
}

// What a deleted tenant's sweep deletes: its adapters in any status but deleting, not a
// tombstoned one, and nobody else's.
BOOST_AUTO_TEST_CASE(undeleted_lists_the_tenants_adapters_not_being_deleted) {
  AdapterView view;
  auto put = [&](const std::string& id, const std::string& tenant, schema::AdapterStatus status) {
    schema::AdapterState s;
    s.seq = 1;
    s.tenant_id = tenant;
    s.adapter.id = id;
    s.adapter.name = id;
    s.adapter.status = status;
    view.put(s);
  };
  put("a-pending", "t1", schema::AdapterStatus::pending);
  put("a-ready", "t1", schema::AdapterStatus::ready);
  put("a-failed", "t1", schema::AdapterStatus::failed);
  put("a-deleting", "t1", schema::AdapterStatus::deleting);
  put("a-gone", "t1", schema::AdapterStatus::ready);
  view.erase("a-gone");
  put("b-ready", "t2", schema::AdapterStatus::ready);
  std::vector<std::string> ids;
  for (const auto& s : view.undeleted("t1")) ids.push_back(s.adapter.id);
  std::sort(ids.begin(), ids.end());
  BOOST_TEST(ids == (std::vector<std::string>{"a-failed", "a-pending", "a-ready"}),
             boost::test_tools::per_element());
  BOOST_TEST(view.undeleted("t3").empty());
}

BOOST_AUTO_TEST_CASE(tenant_deletions_are_remembered_and_reported) {
  TenantTiers tiers;
  schema::TenantRecord t;
  t.id = "t2";
  t.name = "two";
  BOOST_TEST(!tiers.apply("tenant/t2", schema::to_json(t)).has_value());
  BOOST_TEST(!tiers.deleted("t2"));
  t.deleted = true;
  BOOST_TEST(tiers.apply("tenant/t2", schema::to_json(t)).value_or("") == "t2");
  // Deleting it again (DELETE /admin/v1/tenants/{id} writes the record again) is reported again:
  // the worker sweeps on each.
  BOOST_TEST(tiers.apply("tenant/t2", schema::to_json(t)).value_or("") == "t2");
  // A record under another tenant's key deletes nobody.
  schema::TenantRecord liar = t;
  liar.id = "t3";
  BOOST_TEST(!tiers.apply("tenant/t4", schema::to_json(liar)).has_value());
  BOOST_TEST(!tiers.deleted("t3"));
  BOOST_TEST(!tiers.deleted("t4"));
  // Neither a live record nor a tombstone after the deletion undoes it.
  t.deleted = false;
  tiers.apply("tenant/t2", schema::to_json(t));
  tiers.apply("tenant/t2", std::nullopt);
  BOOST_TEST(tiers.deleted("t2"));
  BOOST_TEST(tiers.deleted_ids() == std::vector<std::string>{"t2"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
