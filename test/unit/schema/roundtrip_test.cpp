// Every type: a full example survives to_json → parse → to_json unchanged, and the fields a
// reader relies on (defaults, optionals, nulls, escapes) come back as written.
#define BOOST_TEST_MODULE schema
#include <boost/test/unit_test.hpp>
#include <set>

#include "samples.hpp"
#include "schema/json.hpp"

using namespace loraplane;
using namespace loraplane::schema;

BOOST_AUTO_TEST_SUITE(roundtrip)

BOOST_AUTO_TEST_CASE(every_sample_round_trips) {
  std::set<std::string> schemas;
  for (const auto& sample : testing::all_samples()) {
    BOOST_TEST_CONTEXT(sample.file_name()) {
      schemas.insert(sample.schema);
      auto again = sample.reserialize(sample.json);
      BOOST_REQUIRE_MESSAGE(again.ok(), testing::error_of(again));
      BOOST_TEST(*again == sample.json);
    }
  }
  BOOST_TEST(schemas.size() == 20u);  // one per schema/json/*.schema.json
}

BOOST_AUTO_TEST_CASE(tenant_record_fields) {
  auto t = parse<TenantRecord>(
      R"({"version":1,"id":"ten_1","name":"acme","tier":"dedicated","created_at":5,"deleted":true})");
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(t->id == "ten_1");
  BOOST_TEST(t->name == "acme");
  BOOST_TEST((t->tier == Tier::dedicated));
  BOOST_TEST(t->created_at == 5);
  BOOST_TEST(t->deleted);
}

BOOST_AUTO_TEST_CASE(create_tenant_defaults_to_shared) {
  auto r = parse<CreateTenantRequest>(R"({"name":"acme"})");
  BOOST_REQUIRE(r.ok());
  BOOST_TEST((r->tier == Tier::shared));
  BOOST_TEST(to_json(*r) == R"({"name":"acme","tier":"shared"})");
}

BOOST_AUTO_TEST_CASE(create_adapter_defaults_to_main) {
  auto r = parse<CreateAdapterRequest>(
      R"({"name":"a","base_model":"llama-3.1-8b-instruct","repo":"acme/x"})");
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->revision == "main");
  BOOST_TEST(!r->hf_token.has_value());
}

BOOST_AUTO_TEST_CASE(tenant_api_key_only_when_set) {
  Tenant t{"ten_1", "acme", Tier::shared, 7, std::nullopt};
  BOOST_TEST(to_json(t) ==
             R"({"id":"ten_1","object":"tenant","name":"acme","tier":"shared","created_at":7})");
  t.api_key = "pk-prov-x";
  auto back = parse<Tenant>(to_json(t));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(back->api_key.value() == "pk-prov-x");
}

BOOST_AUTO_TEST_CASE(error_body_nulls_and_escapes) {
  ErrorBody e{"bad \"x\"\n\u00e9", "invalid_request_error", std::nullopt, std::nullopt};
  const auto json = to_json(e);
  BOOST_TEST(json ==
             "{\"error\":{\"message\":\"bad \\\"x\\\"\\n\u00e9\",\"type\":"
             "\"invalid_request_error\",\"param\":null,\"code\":null}}");
  auto back = parse<ErrorBody>(json);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(back->message == e.message);
  BOOST_TEST(!back->param.has_value());
  BOOST_TEST(!back->code.has_value());
}

BOOST_AUTO_TEST_CASE(model_parent_null_for_bases) {
  auto list = parse<ModelList>(
      R"({"object":"list","data":[{"id":"b","object":"model","created":1,"owned_by":"o","parent":null},)"
      R"({"id":"b:x","object":"model","created":2,"owned_by":"t","parent":"b"}]})");
  BOOST_REQUIRE(list.ok());
  BOOST_REQUIRE(list->data.size() == 2u);
  BOOST_TEST(!list->data[0].parent.has_value());
  BOOST_TEST(list->data[1].parent.value() == "b");
}

BOOST_AUTO_TEST_CASE(health_keeps_role_order) {
  auto h = parse<Health>(R"({"status":"ok","roles":{"gateway":"ready","agent":"starting"}})");
  BOOST_REQUIRE(h.ok());
  BOOST_REQUIRE(h->roles.size() == 2u);
  BOOST_TEST(h->roles[0].first == "gateway");
  BOOST_TEST(h->roles[1].second == "starting");
}

BOOST_AUTO_TEST_CASE(job_lora_alpha_keeps_integers_integral) {
  Job j{1,   "j", JobKind::upload, "t",          "adp_x",     "n",
        "b", 1,   std::nullopt,    std::nullopt, std::nullopt};
  j.upload = JobUpload{"u", 1, 10, std::string(testing::kSha256), std::nullopt, 16.0, 0, 7, 7};
  const auto json = to_json(j);
  BOOST_TEST(json.find("\"lora_alpha\":16,") != std::string::npos);
  auto back = parse<Job>(json);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(back->upload->lora_alpha.value() == 16.0);
  BOOST_TEST(!back->upload->config.has_value());
}

BOOST_AUTO_TEST_CASE(unknown_fields_ignored_in_events) {
  auto r = parse<Residency>(
      R"({"version":1,"engine_id":"e","base_model":"b","url":"u","agent_url":"a","gpu":[],"cpu":[],)"
      R"("disk":[],"loading":[],"free_slots":0,"queue_depth":0,"heartbeat_at_ms":1,"new_field":{"x":1}})");
  BOOST_TEST(r.ok());
}

BOOST_AUTO_TEST_CASE(adapter_state_is_flat) {
  AdapterState s{1, {}, "ten_1", 9, std::nullopt, 0, false, {}, std::nullopt};
  s.adapter.id = "adp_1";
  s.adapter.name = "n";
  s.adapter.base_model = "b";
  const auto json = to_json(s);
  BOOST_TEST(json.find("\"object\"") == std::string::npos);
  BOOST_TEST(json.find("\"tenant_id\":\"ten_1\"") != std::string::npos);
  auto back = parse<AdapterState>(json);
  BOOST_REQUIRE_MESSAGE(back.ok(), testing::error_of(back));
  BOOST_TEST(back->adapter.id == "adp_1");
  BOOST_TEST(back->updated_at == 9);
}

// Records written before seq/validated/storage_urls/upload_location existed still parse.
BOOST_AUTO_TEST_CASE(adapter_state_new_fields_default_when_absent) {
  auto back = parse<AdapterState>(
      R"({"version":1,"id":"adp_1","name":"n","base_model":"b","status":"pending",)"
      R"("source":{"type":"upload"},"size_bytes":0,"sha256":"","rank":0,"target_modules":[],)"
      R"("created_at":1,"tenant_id":"ten_1","updated_at":2})");
  BOOST_REQUIRE_MESSAGE(back.ok(), testing::error_of(back));
  BOOST_TEST(back->seq == 0u);
  BOOST_TEST(!back->validated);
  BOOST_TEST(back->storage_urls.empty());
  BOOST_TEST(!back->upload_location.has_value());
}

BOOST_AUTO_TEST_CASE(adapter_state_new_fields_round_trip) {
  AdapterState s{1,
                 {},
                 "ten_1",
                 9,
                 std::nullopt,
                 42,
                 true,
                 {"http://n1/b"},
                 UploadLocation{"upl_1", 2, 100, 130, 3}};
  s.adapter.id = "adp_1";
  s.adapter.name = "n";
  s.adapter.base_model = "b";
  auto back = parse<AdapterState>(to_json(s));
  BOOST_REQUIRE_MESSAGE(back.ok(), testing::error_of(back));
  BOOST_TEST(back->seq == 42u);
  BOOST_TEST(back->validated);
  BOOST_TEST(back->storage_urls == std::vector<std::string>{"http://n1/b"});
  BOOST_REQUIRE(back->upload_location.has_value());
  BOOST_TEST(back->upload_location->upload_id == "upl_1");
  BOOST_TEST(back->upload_location->partition == 2);
  BOOST_TEST(back->upload_location->first_offset == 100);
  BOOST_TEST(back->upload_location->last_offset == 130);
  BOOST_TEST(back->upload_location->chunk_count == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
