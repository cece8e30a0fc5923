// adapter_config.json: PEFT's keys and defaults, what vLLM cannot serve, bounds, and the config
// rendered for vLLM.
#include "schema/adapter/adapter_config.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "test/unit/adapter/fixtures.hpp"

using namespace loraplane;
using namespace loraplane::adapter;
using loraplane::adapter::testing::why;

namespace {

// What PEFT 0.13 writes (json.dumps(indent=2, sort_keys=True)), trimmed.
constexpr std::string_view kPeftConfig = R"({
  "alpha_pattern": {},
  "auto_mapping": null,
  "base_model_name_or_path": "meta-llama/Llama-3.1-8B-Instruct",
  "bias": "none",
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": true,
  "layer_replication": null,
  "layers_pattern": null,
  "layers_to_transform": null,
  "loftq_config": {},
  "lora_alpha": 32,
  "lora_dropout": 0.05,
  "megatron_config": null,
  "megatron_core": "megatron.core",
  "modules_to_save": null,
  "peft_type": "LORA",
  "r": 16,
  "rank_pattern": {},
  "revision": null,
  "target_modules": ["v_proj", "q_proj", "o_proj", "k_proj"],
  "task_type": "CAUSAL_LM",
  "use_dora": false,
  "use_rslora": false
})";

std::string with(std::string_view extra) {
  return "{\"peft_type\":\"LORA\",\"r\":8,\"lora_alpha\":16" +
         (extra.empty() ? std::string() : "," + std::string(extra)) + "}";
}

std::string error_of(std::string_view json) {
  BOOST_TEST_INFO_SCOPE(json);
  return testing::invalid_message(parse_adapter_config(json));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(adapter_config)

BOOST_AUTO_TEST_CASE(parses_what_peft_writes) {
  auto config = parse_adapter_config(kPeftConfig);
  BOOST_REQUIRE_MESSAGE(config.ok(), why(config));
  BOOST_TEST(config->r == 16);
  BOOST_TEST(config->r_explicit);
  BOOST_TEST(config->lora_alpha == 32.0);
  BOOST_TEST(config->lora_alpha_explicit);
  BOOST_TEST((config->target_kind == TargetKind::list));
  BOOST_TEST(
      (config->target_modules == std::vector<std::string>{"k_proj", "o_proj", "q_proj", "v_proj"}));
  BOOST_TEST(config->base_model_name_or_path.value_or("") == "meta-llama/Llama-3.1-8B-Instruct");
  BOOST_TEST(config->task_type.value_or("") == "CAUSAL_LM");
  BOOST_TEST(!config->use_rslora);
}

BOOST_AUTO_TEST_CASE(peft_type_must_be_lora) {
  BOOST_TEST(error_of(R"({"r":8})") ==
             "adapter_config.json: peft_type: is required and must be \"LORA\"");
  BOOST_TEST(error_of(R"({"peft_type":"ADALORA"})") ==
             "adapter_config.json: peft_type: ADALORA adapters are not supported; only LORA");
  BOOST_TEST(error_of(R"({"peft_type":1})") == "adapter_config.json: peft_type: must be \"LORA\"");
}

BOOST_AUTO_TEST_CASE(r_is_a_positive_integer_defaulting_to_peft_8) {
  for (const char* bad :
       {"0", "-1", "8.5", "\"8\"", "null", "true", "65537", "9223372036854775808"}) {
    BOOST_TEST(error_of(R"({"peft_type":"LORA","r":)" + std::string(bad) + "}")
                       .find("r: must be a positive integer") != std::string::npos,
               bad);
  }
  auto absent = parse_adapter_config(R"({"peft_type":"LORA"})");
  BOOST_REQUIRE(absent.ok());
  BOOST_TEST(absent->r == kPeftDefaultRank);
  BOOST_TEST(!absent->r_explicit);
}

BOOST_AUTO_TEST_CASE(lora_alpha_is_a_positive_number_defaulting_to_peft_8) {
  auto absent = parse_adapter_config(R"({"peft_type":"LORA","r":16})");
  BOOST_REQUIRE(absent.ok());
  BOOST_TEST(absent->lora_alpha == 8.0);
  BOOST_TEST(!absent->lora_alpha_explicit);
  auto fractional = parse_adapter_config(R"({"peft_type":"LORA","lora_alpha":16.5})");
  BOOST_REQUIRE(fractional.ok());
  BOOST_TEST(fractional->lora_alpha == 16.5);
  for (const char* bad : {"0", "-2", "\"16\"", "null", "[16]"}) {
    BOOST_TEST(error_of(R"({"peft_type":"LORA","lora_alpha":)" + std::string(bad) + "}") ==
                   "adapter_config.json: lora_alpha: must be a positive number",
               bad);
  }
}

BOOST_AUTO_TEST_CASE(target_modules_list_regex_or_all_linear) {
  auto regex = parse_adapter_config(with(R"("target_modules":".*\\.(q|v)_proj")"));
  BOOST_REQUIRE(regex.ok());
  BOOST_TEST((regex->target_kind == TargetKind::regex));
  BOOST_TEST(regex->target_regex == ".*\\.(q|v)_proj");
  auto all = parse_adapter_config(with(R"("target_modules":"all-linear")"));
  BOOST_REQUIRE(all.ok());
  BOOST_TEST((all->target_kind == TargetKind::all_linear));
  auto unset = parse_adapter_config(with(R"("target_modules":null)"));
  BOOST_REQUIRE(unset.ok());
  BOOST_TEST((unset->target_kind == TargetKind::unspecified));
  auto dup = parse_adapter_config(with(R"("target_modules":["q_proj","q_proj"])"));
  BOOST_REQUIRE(dup.ok());
  BOOST_TEST(dup->target_modules.size() == 1u);
  BOOST_TEST(error_of(with(R"("target_modules":[])")).find("must not be an empty list") !=
             std::string::npos);
  BOOST_TEST(
      error_of(with(R"("target_modules":["q_proj",1])")).find("items must be module names") !=
      std::string::npos);
  BOOST_TEST(error_of(with(R"("target_modules":[""])")).find("items must be module names") !=
             std::string::npos);
  BOOST_TEST(error_of(with(R"("target_modules":7)")).find("list of module names or a regex") !=
             std::string::npos);
  BOOST_TEST(error_of(with(R"("target_modules":"")")).find("regex must be") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(dora_is_rejected) {
  BOOST_TEST(error_of(with(R"("use_dora":true)")) ==
             "adapter_config.json: use_dora: DoRA adapters are not supported");
  BOOST_TEST(parse_adapter_config(with(R"("use_dora":false)")).ok());
  BOOST_TEST(parse_adapter_config(with(R"("use_dora":null)")).ok());
  BOOST_TEST(error_of(with(R"("use_dora":"true")")) ==
             "adapter_config.json: use_dora: must be true or false");
}

BOOST_AUTO_TEST_CASE(modules_to_save_must_be_empty) {
  BOOST_TEST(error_of(with(R"("modules_to_save":["lm_head","embed_tokens"])")) ==
             "adapter_config.json: modules_to_save: adapters that also save full modules "
             "([\"lm_head\",\"embed_tokens\"]) are not supported by vLLM");
  BOOST_TEST(parse_adapter_config(with(R"("modules_to_save":[])")).ok());
  BOOST_TEST(parse_adapter_config(with(R"("modules_to_save":null)")).ok());
  BOOST_TEST(error_of(with(R"("modules_to_save":"lm_head")")).find("must be null or a list") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(per_module_ranks_and_alphas_are_rejected) {
  BOOST_TEST(
      error_of(with(R"("rank_pattern":{"q_proj":16})")).find("rank_pattern: per-module ranks") !=
      std::string::npos);
  BOOST_TEST(
      error_of(with(R"("alpha_pattern":{"q_proj":16})")).find("alpha_pattern: per-module ranks") !=
      std::string::npos);
  BOOST_TEST(error_of(with(R"("rank_pattern":[1])")).find("rank_pattern: must be an object") !=
             std::string::npos);
  BOOST_TEST(parse_adapter_config(with(R"("rank_pattern":{},"alpha_pattern":null)")).ok());
}

BOOST_AUTO_TEST_CASE(bias_terms_are_rejected) {
  BOOST_TEST(error_of(with(R"("bias":"all")")).find("bias: only \"none\"") != std::string::npos);
  BOOST_TEST(error_of(with(R"("bias":"lora_only")")).find("bias: only \"none\"") !=
             std::string::npos);
  BOOST_TEST(error_of(with(R"("lora_bias":true)")).find("lora_bias: LoRA bias terms") !=
             std::string::npos);
  BOOST_TEST(parse_adapter_config(with(R"("bias":"none","lora_bias":false)")).ok());
}

BOOST_AUTO_TEST_CASE(other_fields) {
  auto rs = parse_adapter_config(with(R"("use_rslora":true,"base_model_name_or_path":null)"));
  BOOST_REQUIRE(rs.ok());
  BOOST_TEST(rs->use_rslora);
  BOOST_TEST(!rs->base_model_name_or_path);
  BOOST_TEST(error_of(with(R"("use_rslora":1)")).find("use_rslora: must be true or false") !=
             std::string::npos);
  BOOST_TEST(error_of(with(R"("base_model_name_or_path":5)"))
                 .find("base_model_name_or_path: must be a string") != std::string::npos);
  BOOST_TEST(
      parse_adapter_config(with(R"("enable_lora":null,"some_future_key":{"a":[1,2]})")).ok());
}

BOOST_AUTO_TEST_CASE(document_rules_and_bounds) {
  BOOST_TEST(error_of("[]") == "adapter_config.json: must be a JSON object");
  BOOST_TEST(error_of("{").find("invalid JSON") != std::string::npos);
  BOOST_TEST(error_of(R"({"peft_type":"LORA","r":8,"r":16})") ==
             "adapter_config.json: r: appears more than once");
  std::string big = with(R"("pad":")" + std::string(kMaxConfigBytes, 'x') + "\"");
  BOOST_TEST(error_of(big).find("larger than 1048576 bytes") != std::string::npos);
  // The root object is level 1: 31 nested arrays inside it are 32 levels, 32 are too many.
  auto nested = [](int n) { return with("\"x\":" + std::string(n, '[') + std::string(n, ']')); };
  BOOST_TEST(parse_adapter_config(nested(31)).ok());
  BOOST_TEST(error_of(nested(32)) == "adapter_config.json: nested deeper than 32 levels");
}

BOOST_AUTO_TEST_CASE(renders_the_config_vllm_loads) {
  VllmAdapterConfig in{16, 32, {"k_proj", "q_proj"}, "meta-llama/Llama-3.1-8B-Instruct", false};
  const std::string text = render_adapter_config(in);
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(text.find("\"lora_alpha\":32,") != std::string::npos);
  const auto doc = boost::json::parse(text).as_object();
  BOOST_TEST(doc.at("peft_type").as_string() == "LORA");
  BOOST_TEST(doc.at("bias").as_string() == "none");
  BOOST_TEST(doc.at("task_type").as_string() == "CAUSAL_LM");
  BOOST_TEST(doc.at("r").as_int64() == 16);
  BOOST_TEST(doc.at("target_modules").as_array().size() == 2u);
  BOOST_TEST(doc.at("use_dora").as_bool() == false);
  BOOST_TEST(doc.at("modules_to_save").is_null());
  auto back = parse_adapter_config(text);
  BOOST_REQUIRE_MESSAGE(back.ok(), why(back));
  BOOST_TEST(back->r == 16);
  BOOST_TEST(back->lora_alpha == 32.0);
  BOOST_TEST((back->target_modules == in.target_modules));
  BOOST_TEST(back->base_model_name_or_path.value_or("") == in.base_model_name_or_path);
  in.lora_alpha = 0.5;
  in.use_rslora = true;
  const auto doc2 = boost::json::parse(render_adapter_config(in)).as_object();
  BOOST_TEST(doc2.at("lora_alpha").as_double() == 0.5);
  BOOST_TEST(doc2.at("use_rslora").as_bool());
}

BOOST_AUTO_TEST_SUITE_END()
