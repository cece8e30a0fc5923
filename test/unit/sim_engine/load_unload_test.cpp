// Runtime LoRA API of the simulator against vLLM's exact answers (serving_models.py).
#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "test/unit/sim_engine/engine_fixture.hpp"

namespace loraplane::sim_engine::test {

namespace json = boost::json;

namespace {

json::object error_of(const HttpResult& res) {
  return json::parse(res.body).as_object().at("error").as_object();
}

void check_error(const HttpResult& res, int status, std::string_view type,
                 std::string_view message) {
  BOOST_TEST_CONTEXT(res.body) {
    BOOST_TEST(res.status == status);
    auto error = error_of(res);
    BOOST_TEST(error.at("type").as_string() == type);
    BOOST_TEST(error.at("code").as_int64() == status);
    BOOST_TEST(error.at("message").as_string() == message);
    BOOST_TEST(error.at("param").is_null());
  }
}

HttpResult load(const EngineFixture& e, const std::string& name, const std::string& path,
                bool inplace = false) {
  json::object body{{"lora_name", name}, {"lora_path", path}};
  if (inplace) body["load_inplace"] = true;
  return e.post_json("/v1/load_lora_adapter", body);
}

HttpResult unload(const EngineFixture& e, const std::string& name) {
  return e.post_json("/v1/unload_lora_adapter", {{"lora_name", name}});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(load_unload)

BOOST_AUTO_TEST_CASE(load_then_unload_answers_like_vllm) {
  EngineFixture e;
  auto path = e.make_adapter("sql");
  auto res = load(e, "sql", path);
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.body == "Success: LoRA adapter 'sql' added successfully.");

  check_error(load(e, "sql", path), 400, "InvalidUserInput",
              "The lora adapter 'sql' has already been loaded. If you want to load the adapter "
              "in place, set 'load_inplace' to True.");
  BOOST_TEST(load(e, "sql", path, true).status == 200);

  res = unload(e, "sql");
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.body == "Success: LoRA adapter 'sql' removed successfully.");
  check_error(unload(e, "sql"), 404, "NotFoundError", "The lora adapter 'sql' cannot be found.");
  BOOST_TEST(load(e, "sql", path).status == 200);  // the name is free again
}

BOOST_AUTO_TEST_CASE(missing_and_empty_fields_are_400) {
  EngineFixture e;
  auto res = e.post_json("/v1/load_lora_adapter", {{"lora_name", "x"}});
  BOOST_TEST(res.status == 400);
  BOOST_TEST(error_of(res).at("type").as_string() == "BadRequestError");
  BOOST_TEST(std::string(error_of(res).at("message").as_string()).find("lora_path") !=
             std::string::npos);
  BOOST_TEST(e.post("/v1/load_lora_adapter", "not json").status == 400);
  check_error(load(e, "", "/tmp/x"), 400, "InvalidUserInput",
              "Both 'lora_name' and 'lora_path' must be provided.");
  check_error(load(e, "x", ""), 400, "InvalidUserInput",
              "Both 'lora_name' and 'lora_path' must be provided.");
  BOOST_TEST(e.post_json("/v1/unload_lora_adapter", json::object{}).status == 400);
  check_error(unload(e, ""), 400, "InvalidUserInput",
              "'lora_name' needs to be provided to unload a LoRA adapter.");
}

BOOST_AUTO_TEST_CASE(missing_directory_or_config_is_404) {
  EngineFixture e;
  const std::string nowhere = e.dir() + "/nowhere";
  check_error(
      load(e, "ghost", nowhere), 404, "NotFoundError",
      "Call to add_lora method failed: Loading lora ghost failed: No adapter found for " + nowhere);
  auto path = e.make_adapter("noconfig");
  std::filesystem::remove(path + "/adapter_config.json");
  check_error(load(e, "noconfig", path), 404, "NotFoundError",
              "Call to add_lora method failed: Loading lora noconfig failed: No adapter found "
              "for " +
                  path);
  BOOST_TEST(json::parse(e.get("/v1/models").body).at("data").as_array().size() == 1u);
}

BOOST_AUTO_TEST_CASE(corrupt_or_refused_adapters_are_400) {
  EngineFixture e;
  const std::string prefix = "Call to add_lora method failed: ";
  auto path = e.make_adapter("bad");
  auto header_error = [&](const HttpResult& res, std::string_view detail) {
    BOOST_TEST(res.status == 400);
    std::string message(error_of(res).at("message").as_string());
    BOOST_TEST(message.rfind(prefix + "Error while deserializing header: ", 0) == 0u, message);
    BOOST_TEST(message.find(detail) != std::string::npos, message);
  };
  write_file(path + "/adapter_model.safetensors",
             std::string("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10));
  header_error(load(e, "bad", path), "exceeds the format's limit");

  auto good = adapter_safetensors(8);
  write_file(path + "/adapter_model.safetensors", good.substr(0, good.size() - 10));
  header_error(load(e, "bad", path), "truncated");

  write_file(path + "/adapter_model.safetensors", good.substr(0, 40));
  header_error(load(e, "bad", path), "runs past the end");

  std::filesystem::remove(path + "/adapter_model.safetensors");
  check_error(load(e, "bad", path), 400, "BadRequestError",
              prefix + path + " doesn't contain tensors");

  auto big = e.make_adapter("big", 128);
  check_error(load(e, "big", big), 400, "BadRequestError",
              prefix + "LoRA rank 128 is greater than max_lora_rank 64.");

  auto dora = e.make_adapter("dora");
  write_file(
      dora + "/adapter_config.json",
      R"({"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":["q_proj"],"use_dora":true})");
  check_error(load(e, "dora", dora), 400, "BadRequestError",
              prefix + "vLLM does not yet support DoRA.");

  write_file(dora + "/adapter_config.json", R"({"peft_type":"LORA","lora_alpha":16})");
  check_error(load(e, "dora", dora), 400, "BadRequestError",
              prefix + "Missing required configuration fields: {'r', 'target_modules'}");

  auto text = e.get("/metrics").body;
  BOOST_TEST(metric_value(text, "loraplane_sim_adapter_load_failures_total") == 7);
  BOOST_TEST(metric_value(text, "loraplane_sim_adapter_loads_total") == 0);
}

BOOST_AUTO_TEST_CASE(models_lists_base_then_adapters_with_parent) {
  EngineFixture e;
  auto a = e.load("alpha");
  auto b = e.load("beta");
  auto res = e.get("/v1/models");
  BOOST_TEST(res.status == 200);
  auto body = json::parse(res.body).as_object();
  BOOST_TEST(body.at("object").as_string() == "list");
  auto& data = body.at("data").as_array();
  BOOST_REQUIRE(data.size() == 3u);
  auto& base = data[0].as_object();
  BOOST_TEST(base.at("id").as_string() == "toy-llama");
  BOOST_TEST(base.at("object").as_string() == "model");
  BOOST_TEST(base.at("owned_by").as_string() == "vllm");
  BOOST_TEST(base.at("root").as_string() == "/models/toy-llama");
  BOOST_TEST(base.at("parent").is_null());
  BOOST_TEST(base.at("max_model_len").as_int64() == 8192);
  const std::pair<const char*, std::string> adapters[] = {{"alpha", a}, {"beta", b}};
  for (std::size_t i = 0; i < 2; ++i) {
    auto& card = data[i + 1].as_object();
    BOOST_TEST(card.at("id").as_string() == adapters[i].first);
    BOOST_TEST(card.at("root").as_string() == adapters[i].second);
    BOOST_TEST(card.at("parent").as_string() == "toy-llama");
    BOOST_TEST(card.at("permission").as_array().size() == 1u);
  }
}

BOOST_AUTO_TEST_CASE(registered_adapters_are_bounded) {
  auto options = test_options();
  options.max_adapters = 2;
  EngineFixture e(options);
  e.load("a");
  e.load("b");
  auto res = load(e, "c", e.make_adapter("c"));
  BOOST_TEST(res.status == 400);
  BOOST_TEST(error_of(res).at("message").as_string() ==
             "The engine simulator holds at most 2 adapters (max_adapters); unload one first.");
  BOOST_TEST(unload(e, "a").status == 200);
  BOOST_TEST(load(e, "c", e.dir() + "/c").status == 200);
}

BOOST_AUTO_TEST_CASE(health_is_200) {
  EngineFixture e;
  auto res = e.get("/health");
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.body.empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::sim_engine::test
