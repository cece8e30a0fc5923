// The gateway's tenant directory: a record the gateway wrote itself (put at its acknowledged
// offset) is never undone by an older record the topic reader replays afterwards. Without this a
// revoked key authenticated again until the reader caught up with the revocation.
#include "gateway/tenant_directory.hpp"

#include <boost/test/unit_test.hpp>

#include "schema/json.hpp"

namespace gw = loraplane::gateway;
namespace schema = loraplane::schema;

namespace {

schema::TenantRecord tenant(bool deleted) {
  schema::TenantRecord t;
  t.id = "ten_victim";
  t.name = "victim";
  t.deleted = deleted;
  return t;
}

struct Fixture {
  gw::TenantDirectory dir;
  gw::NewApiKey key = gw::generate_api_key("ten_victim", 0);
  std::string key_topic_key = gw::api_key_topic_key(key.record.prefix);
  std::string tenant_topic_key = gw::tenant_topic_key("ten_victim");

  schema::ApiKeyRecord revoked() const {
    auto r = key.record;
    r.revoked = true;
    return r;
  }
  bool authenticates() const { return dir.authenticate(key.key).has_value(); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(tenant_directory, Fixture)

BOOST_AUTO_TEST_CASE(a_revocation_put_here_survives_the_readers_replay_of_the_creation) {
  dir.put(tenant(false), 0);
  dir.put(key.record, 1);
  BOOST_TEST(authenticates());
  dir.put(revoked(), 7);  // this gateway's revoke, acknowledged at offset 7
  BOOST_TEST(!authenticates());
  // The reader, behind, now delivers the topic from the start.
  dir.apply(tenant_topic_key, schema::to_json(tenant(false)), 0);
  dir.apply(key_topic_key, schema::to_json(key.record), 1);
  BOOST_TEST(!authenticates());
  dir.apply(key_topic_key, schema::to_json(revoked()), 7);
  BOOST_TEST(!authenticates());
  BOOST_TEST(dir.api_key(key.record.prefix)->revoked);
}

BOOST_AUTO_TEST_CASE(a_tenant_deleted_here_stays_deleted_while_the_reader_catches_up) {
  dir.put(tenant(false), 2);
  dir.put(key.record, 3);
  dir.put(tenant(true), 9);
  BOOST_TEST(!authenticates());
  dir.apply(tenant_topic_key, schema::to_json(tenant(false)), 2);
  BOOST_TEST(!authenticates());
  BOOST_TEST(!dir.tenant("ten_victim").has_value());
  BOOST_TEST(dir.record("ten_victim")->deleted);
}

BOOST_AUTO_TEST_CASE(newer_records_from_the_topic_still_apply) {
  // Written by another gateway: only the reader sees them, in order.
  dir.apply(tenant_topic_key, schema::to_json(tenant(false)), 0);
  dir.apply(key_topic_key, schema::to_json(key.record), 1);
  BOOST_TEST(authenticates());
  dir.apply(key_topic_key, schema::to_json(revoked()), 4);
  BOOST_TEST(!authenticates());
  // A tombstone after that removes the key; a stale put of the live key cannot bring it back.
  dir.apply(key_topic_key, std::nullopt, 5);
  BOOST_TEST(!dir.api_key(key.record.prefix).has_value());
  dir.put(key.record, 1);
  BOOST_TEST(!authenticates());
  BOOST_TEST(!dir.api_key(key.record.prefix).has_value());
}

// A record is filed under its topic key: one under "tenant/A" saying it is tenant B (or deleted
// B) must not touch B, nor a key record under another prefix that key.
BOOST_AUTO_TEST_CASE(a_record_whose_id_differs_from_its_key_is_skipped) {
  dir.apply(tenant_topic_key, schema::to_json(tenant(false)), 0);
  dir.apply(key_topic_key, schema::to_json(key.record), 1);
  BOOST_TEST(authenticates());
  dir.apply(gw::tenant_topic_key("ten_other"), schema::to_json(tenant(true)), 2);
  BOOST_TEST(authenticates());
  BOOST_TEST(!dir.record("ten_other").has_value());
  dir.apply(gw::api_key_topic_key("pk-prov-someone"), schema::to_json(revoked()), 3);
  BOOST_TEST(authenticates());
  BOOST_TEST(!dir.api_key("pk-prov-someone").has_value());
  // Nor is a record under the victim's own key that names another tenant filed anywhere.
  auto other = tenant(true);
  other.id = "ten_other";
  dir.apply(tenant_topic_key, schema::to_json(other), 4);
  BOOST_TEST(authenticates());
  BOOST_TEST(!dir.record("ten_other").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
