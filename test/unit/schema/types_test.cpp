// Enum spellings, tier limits, the name and id rules, and the Kafka header form of an upload
// chunk.
#include <boost/test/unit_test.hpp>

#include "samples.hpp"
#include "schema/json.hpp"
#include "schema/upload_headers.hpp"

using namespace loraplane;
using namespace loraplane::schema;

BOOST_AUTO_TEST_SUITE(types)

BOOST_AUTO_TEST_CASE(tier_limits_match_the_contract) {
  BOOST_TEST(limits(Tier::shared).max_adapters == 20);
  BOOST_TEST(limits(Tier::reserved).max_adapters == 200);
  BOOST_TEST(limits(Tier::dedicated).max_adapters == 200);
  for (auto tier : {Tier::shared, Tier::reserved, Tier::dedicated}) {
    BOOST_TEST(limits(tier).max_adapter_bytes == 500'000'000u);
    BOOST_TEST(limits(tier).max_rank == 64);
  }
}

BOOST_AUTO_TEST_CASE(enum_spellings_round_trip) {
  for (auto tier : {Tier::shared, Tier::reserved, Tier::dedicated}) {
    BOOST_TEST((parse_tier(to_string(tier)) == tier));
  }
  BOOST_TEST(to_string(JobKind::remove) == "delete");
  BOOST_TEST((parse_job_kind("import") == JobKind::import));
  BOOST_TEST(to_string(JobKind::stored) == "stored");
  BOOST_TEST((parse_job_kind("stored") == JobKind::stored));
  BOOST_TEST(to_string(LoadEventKind::adapter_deleted) == "adapter.deleted");
  BOOST_TEST((parse_adapter_status("validating") == AdapterStatus::validating));
  BOOST_TEST((parse_source_type("hf") == SourceType::hf));
  BOOST_TEST(!parse_tier("Shared").has_value());
  BOOST_TEST(!parse_adapter_status("").has_value());
}

BOOST_AUTO_TEST_CASE(name_rule) {
  BOOST_TEST(valid_name("a"));
  BOOST_TEST(valid_name("My_Adapter-v1.2"));
  BOOST_TEST(valid_name(std::string(64, 'x')));
  BOOST_TEST(!valid_name(""));
  BOOST_TEST(!valid_name(std::string(65, 'x')));
  BOOST_TEST(!valid_name("base:name"));
  BOOST_TEST(!valid_name("a b"));
  BOOST_TEST(!valid_name("a/b"));
  BOOST_TEST(!valid_name("caf\u00e9"));
}

BOOST_AUTO_TEST_CASE(id_rules) {
  BOOST_TEST(valid_sha256(std::string(64, 'a')));
  BOOST_TEST(!valid_sha256(std::string(64, 'A')));
  BOOST_TEST(!valid_sha256(std::string(63, 'a')));
  BOOST_TEST(valid_adapter_id("adp_01HZ-x_"));
  BOOST_TEST(!valid_adapter_id("adp_"));
  BOOST_TEST(!valid_adapter_id("adp_a.b"));
  BOOST_TEST(valid_base_model("meta-llama/Llama-3.1-8B"));
  BOOST_TEST(!valid_base_model("llama:x"));
  BOOST_TEST(valid_repo("acme/x.y-z_1"));
  BOOST_TEST(valid_repo("gpt2"));
  BOOST_TEST(!valid_repo("/x"));
  BOOST_TEST(!valid_repo("a/-x"));
  BOOST_TEST(!valid_repo(std::string(97, 'a')));
  BOOST_TEST(valid_revision("refs/pr/1"));
  BOOST_TEST(!valid_revision("a b"));
}

BOOST_AUTO_TEST_CASE(upload_headers_round_trip) {
  const UploadChunkHeader last{1, "upl_1", 9, 10, true};
  const auto headers = to_headers(last);
  BOOST_REQUIRE(headers.size() == 5u);
  BOOST_TEST(headers[2].key == "index");
  BOOST_TEST(headers[2].value == "9");
  auto back = parse_headers(headers);
  BOOST_REQUIRE_MESSAGE(back.ok(), testing::error_of(back));
  BOOST_TEST(to_json(*back) == to_json(last));

  const UploadChunkHeader first{1, "upl_1", 0, std::nullopt, false};
  auto extra = to_headers(first);
  extra.push_back({"traceparent", "00-abc"});  // foreign headers are ignored
  auto back_first = parse_headers(extra);
  BOOST_REQUIRE(back_first.ok());
  BOOST_TEST(!back_first->count.has_value());

  // With the request it came from: one more header, which parsing passes over.
  const auto traced = to_headers(last, "req_42");
  BOOST_REQUIRE(traced.size() == 6u);
  BOOST_TEST(traced.back().key == "loraplane-request-id");
  BOOST_TEST(traced.back().value == "req_42");
  auto back_traced = parse_headers(traced);
  BOOST_REQUIRE(back_traced.ok());
  BOOST_TEST(to_json(*back_traced) == to_json(last));
  BOOST_TEST(to_headers(last, "").size() == 5u);
}

BOOST_AUTO_TEST_CASE(a_chunk_span_covers_every_delivered_offset) {
  ChunkSpan span;
  for (std::int64_t offset : {41, 40, 43}) span.add({3, offset});  // reports in any order
  BOOST_TEST(span.partition == 3);
  BOOST_TEST(span.first_offset == 40);
  BOOST_TEST(span.last_offset == 43);
}

BOOST_AUTO_TEST_CASE(upload_headers_errors_name_the_header) {
  auto headers = to_headers(UploadChunkHeader{1, "upl_1", 0, std::nullopt, false});
  auto bad_index = headers;
  bad_index[2].value = "-1";
  BOOST_TEST(parse_headers(bad_index).error().message == "index: must be an integer");
  auto bad_last = headers;
  bad_last.back().value = "yes";
  BOOST_TEST(parse_headers(bad_last).error().message == "last: must be true or false");
  auto repeated = headers;
  repeated.push_back({"upload_id", "upl_2"});
  BOOST_TEST(parse_headers(repeated).error().message == "upload_id: repeated header");
  auto missing = headers;
  missing.erase(missing.begin() + 1);
  BOOST_TEST(parse_headers(missing).error().message == "upload_id: is required");
  auto future = headers;
  future[0].value = "2";
  BOOST_TEST(parse_headers(future).error().message ==
             "version: unsupported version 2 (this build reads 1)");
}

BOOST_AUTO_TEST_SUITE_END()
