// Bad input is refused with Errc::invalid_argument and a message naming the field at fault:
// missing fields, wrong types, bad enums, broken rules, nesting, size, duplicates, versions.
#include <boost/test/unit_test.hpp>
#include <optional>

#include "invalid_cases.hpp"
#include "schema/json.hpp"

using namespace loraplane;
using namespace loraplane::schema;
using testing::mutate;
using testing::sample_json;

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(field_errors_name_the_field) {
  std::vector<testing::Case> cases = testing::kSchemaCases;
  cases.insert(cases.end(), testing::kCppOnlyCases.begin(), testing::kCppOnlyCases.end());
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.schema << " " << c.path) {
      const auto json = c.document();
      auto r = testing::reparse(c.schema, json);
      BOOST_REQUIRE_MESSAGE(!r.ok(), "accepted: " << json);
      BOOST_TEST((r.error().code == Errc::invalid_argument));
      BOOST_TEST(r.error().message == c.message);
      BOOST_TEST(error_field(r.error()).value_or("") ==
                 std::string(c.message.substr(0, c.message.find(": "))));
    }
  }
}

BOOST_AUTO_TEST_CASE(document_errors) {
  auto check = [](std::string_view json, std::string_view message) {
    auto r = parse<TenantRecord>(json);
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST((r.error().code == Errc::invalid_argument));
    BOOST_TEST(r.error().message.substr(0, message.size()) == message);
  };
  check("", "document: invalid JSON (");
  check("{\"version\":1,", "document: invalid JSON (");
  check("[1,2]", "document: must be a JSON object");
  check("\"text\"", "document: must be a JSON object");
  check(R"({"version":1,"version":1})", "version: duplicate key");
  BOOST_TEST(!error_field(parse<TenantRecord>("[]").error()).has_value());
  BOOST_TEST(!error_field(make_error(Errc::io, "disk: full")).has_value());
}

BOOST_AUTO_TEST_CASE(depth_is_bounded) {
  auto nested = [](std::size_t arrays) {
    return R"({"name":"acme","x":)" + std::string(arrays, '[') + std::string(arrays, ']') + "}";
  };
  // The root object counts as one level: 31 arrays inside make 32, the limit.
  BOOST_TEST(parse<CreateTenantRequest>(nested(31)).error().message == "x: unknown field");
  BOOST_TEST(parse<CreateTenantRequest>(nested(32)).error().message ==
             "document: nested deeper than 32 levels");
  BOOST_TEST(parse<CreateTenantRequest>(nested(100000)).error().message ==
             "document: nested deeper than 32 levels");
  BOOST_TEST(
      parse<CreateTenantRequest>(nested(4), ParseLimits{kMaxDocumentBytes, 4}).error().message ==
      "document: nested deeper than 4 levels");
}

BOOST_AUTO_TEST_CASE(size_is_bounded) {
  const std::string head =
      R"({"version":1,"id":"t","name":"acme","tier":"shared","created_at":1,"deleted":false,"pad":")";
  std::string exact = head + std::string(kMaxDocumentBytes - head.size() - 2, 'x') + "\"}";
  BOOST_REQUIRE(exact.size() == kMaxDocumentBytes);
  BOOST_TEST(parse<TenantRecord>(exact).ok());
  exact.insert(exact.size() - 2, "x");
  BOOST_TEST(parse<TenantRecord>(exact).error().message == "document: larger than 1048576 bytes");
  BOOST_TEST(parse<TenantRecord>(sample_json("TenantRecord"), ParseLimits{16, kMaxDepth})
                 .error()
                 .message == "document: larger than 16 bytes");
}

BOOST_AUTO_TEST_CASE(strings_are_bounded) {
  const std::string long_message = "\"" + std::string(65537, 'm') + "\"";
  auto r = testing::reparse("Error", mutate(sample_json("Error"), "error.message", long_message));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message == "error.message: must be at most 65536 bytes long");
}

BOOST_AUTO_TEST_SUITE_END()
