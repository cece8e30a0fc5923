// Tenant, API key, error and health bodies: round trips and field-naming errors.
#define BOOST_TEST_MODULE schema
#include <boost/test/unit_test.hpp>

#include "schema/json.hpp"

using namespace loraplane;
using namespace loraplane::schema;

BOOST_AUTO_TEST_CASE(smoke) {
  TenantRecord t{1, "ten_1", "acme", Tier::reserved, 1700000000, false};
  auto j = to_json(t);
  BOOST_TEST_MESSAGE(j);
  auto back = parse<TenantRecord>(j);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(to_json(*back) == j);
  auto bad = parse<CreateTenantRequest>(R"({"name":"a b"})");
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().message == "name: must be 1-64 characters of [A-Za-z0-9._-]");
  std::string deep(32, '[');
  deep = "{\"a\":" + std::string(31, '[') + std::string(31, ']') + "}";
  auto d = parse<CreateTenantRequest>(deep);
  BOOST_TEST_MESSAGE(d.error().message);
  deep = "{\"a\":" + std::string(32, '[') + std::string(32, ']') + "}";
  d = parse<CreateTenantRequest>(deep);
  BOOST_TEST_MESSAGE(d.error().message);
}
