// Adapter validation against base dimensions: each rule of ARCHITECTURE §4 with the tensor or
// field it names, lora_alpha resolution, base-model naming and the quick rank check.
#include "schema/adapter/validate.hpp"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdlib>

#include "common/model_catalog.hpp"
#include "test/unit/adapter/fixtures.hpp"

using namespace loraplane;
using namespace loraplane::adapter;
using namespace loraplane::adapter::testing;

namespace {

SafetensorsHeader header_of(const std::vector<TensorSpec>& tensors) {
  auto header = parse_safetensors_header(header_bytes(tensors));
  BOOST_REQUIRE_MESSAGE(header.ok(), why(header));
  return std::move(header).value();
}

AdapterConfig config_of(std::string_view json) {
  auto config = parse_adapter_config(json);
  BOOST_REQUIRE_MESSAGE(config.ok(), why(config));
  return std::move(config).value();
}

Result<AdapterSummary> validate(const std::vector<TensorSpec>& tensors,
                                const std::optional<AdapterConfig>& config = std::nullopt,
                                const BaseModel& base = toy_llama(), int max_rank = 64,
                                std::optional<double> alpha = std::nullopt) {
  return validate_adapter(header_of(tensors), config, base, max_rank, alpha);
}

std::string error_of(const Result<AdapterSummary>& result) { return invalid_message(result); }

std::vector<TensorSpec> toy(std::uint64_t rank = 8, std::vector<std::string> modules = qkvo()) {
  return lora_tensors(toy_llama(), LoraSpec{.rank = rank, .modules = std::move(modules)});
}

TensorSpec* find(std::vector<TensorSpec>& tensors, std::string_view name) {
  for (auto& t : tensors) {
    if (t.name == name) return &t;
  }
  BOOST_FAIL("no tensor " << name);
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(validation)

BOOST_AUTO_TEST_CASE(fixtures_agree_with_the_catalog) {
  const char* source = std::getenv("LORAPLANE_SOURCE_DIR");
  if (source == nullptr) return;  // run outside ctest
  auto catalog = ModelCatalog::load(std::string(source) + "/ops/models.json");
  BOOST_REQUIRE_MESSAGE(catalog.ok(), why(catalog));
  for (const auto& expected : {toy_llama(), llama_8b(), llama_70b(), bge_m3()}) {
    const BaseModel* m = catalog->find(expected.id);
    BOOST_REQUIRE_MESSAGE(m != nullptr, expected.id);
    BOOST_TEST((m->kind == expected.kind));
    BOOST_TEST(m->hidden_size == expected.hidden_size);
    BOOST_TEST(m->intermediate_size == expected.intermediate_size);
    BOOST_TEST(m->num_layers == expected.num_layers);
    BOOST_TEST(m->num_heads == expected.num_heads);
    BOOST_TEST(m->num_kv_heads == expected.num_kv_heads);
    BOOST_TEST(m->head_dim == expected.head_dim);
  }
}

BOOST_AUTO_TEST_CASE(accepts_valid_toy_adapters) {
  for (std::uint64_t rank : {4, 8, 16, 64}) {
    for (const auto& modules : {qkvo(), all_modules()}) {
      const auto tensors = toy(rank, modules);
      auto summary = validate(tensors);
      BOOST_REQUIRE_MESSAGE(summary.ok(), why(summary));
      BOOST_TEST(summary->rank == static_cast<int>(rank));
      BOOST_TEST(summary->lora_alpha == static_cast<double>(rank));
      BOOST_TEST(summary->layers_covered == 2u);
      BOOST_TEST(summary->size_bytes == file_bytes(tensors).size());
      auto sorted = modules;
      std::sort(sorted.begin(), sorted.end());
      BOOST_TEST(summary->target_modules == sorted);
    }
  }
}

BOOST_AUTO_TEST_CASE(llama_sizes_match_the_reference) {
  auto s8 = validate(lora_tensors(llama_8b(), LoraSpec{.rank = 16}), std::nullopt, llama_8b());
  BOOST_REQUIRE_MESSAGE(s8.ok(), why(s8));
  BOOST_TEST(s8->size_bytes / 1'000'000 == 27u);
  BOOST_TEST(s8->layers_covered == 32u);
  auto all8 = validate(lora_tensors(llama_8b(), LoraSpec{.rank = 16, .modules = all_modules()}),
                       std::nullopt, llama_8b());
  BOOST_REQUIRE(all8.ok());
  BOOST_TEST(all8->size_bytes / 1'000'000 == 83u);
  auto s70 = validate(lora_tensors(llama_70b(), LoraSpec{.rank = 64}), std::nullopt, llama_70b());
  BOOST_REQUIRE(s70.ok());
  BOOST_TEST(s70->size_bytes > 500'000'000u);
  BOOST_TEST(s70->layers_covered == 80u);
}

BOOST_AUTO_TEST_CASE(embedding_bases_refuse_lora) {
  BOOST_TEST(error_of(validate(toy(), std::nullopt, bge_m3())) ==
             "base model bge-m3 is an embedding model: LoRA adapters are not supported");
}

BOOST_AUTO_TEST_CASE(only_float_dtypes) {
  for (const char* dtype : {"F16", "BF16", "F32"}) {
    auto tensors = lora_tensors(toy_llama(), LoraSpec{.dtype = dtype});
    BOOST_TEST(validate(tensors).ok(), dtype);
  }
  auto tensors = toy();
  tensors[3].dtype = "I32";
  BOOST_TEST(error_of(validate(tensors)) ==
             "tensor '" + tensors[3].name + "': dtype I32 is not supported: use F16, BF16 or F32");
}

BOOST_AUTO_TEST_CASE(the_peft_prefix_is_optional_but_not_twice) {
  auto bare = lora_tensors(toy_llama(), LoraSpec{.prefix = false});
  BOOST_TEST(validate(bare).ok());
  auto both = toy();
  both.push_back({lora_name(0, "q_proj", true, false), "BF16", {8, 64}});
  BOOST_TEST(contains(error_of(validate(both)), "names the same weight as tensor"));
}

BOOST_AUTO_TEST_CASE(every_a_has_its_b_and_back) {
  auto no_b = toy();
  no_b.erase(no_b.begin() + 1);  // layer 0 q_proj lora_B
  BOOST_TEST(error_of(validate(no_b)) == "tensor '" + lora_name(0, "q_proj", true) +
                                             "': has no matching lora_B tensor '" +
                                             lora_name(0, "q_proj", false) + "'");
  auto no_a = toy();
  no_a.erase(no_a.begin() + 2);  // layer 0 k_proj lora_A
  BOOST_TEST(error_of(validate(no_a)) == "tensor '" + lora_name(0, "k_proj", false) +
                                             "': has no matching lora_A tensor '" +
                                             lora_name(0, "k_proj", true) + "'");
}

BOOST_AUTO_TEST_CASE(rank_limit) {
  BOOST_TEST(contains(error_of(validate(toy(128))), "rank 128 exceeds the limit of 64"));
  BOOST_TEST(contains(error_of(validate(toy(32), std::nullopt, toy_llama(), 16)),
                      "rank 32 exceeds the limit of 16"));
  BOOST_TEST(validate(toy(16), std::nullopt, toy_llama(), 16).ok());
  auto config = config_of(R"({"peft_type":"LORA","r":128,"lora_alpha":16})");
  BOOST_TEST(error_of(validate(toy(8), config)) ==
             "adapter_config.json: r: rank 128 exceeds the limit of 64");
}

BOOST_AUTO_TEST_CASE(rank_is_one_across_tensors_and_equal_to_r) {
  auto mixed = toy(8);
  auto more = toy(16);
  *find(mixed, lora_name(1, "v_proj", true)) = *find(more, lora_name(1, "v_proj", true));
  *find(mixed, lora_name(1, "v_proj", false)) = *find(more, lora_name(1, "v_proj", false));
  BOOST_TEST(error_of(validate(mixed)) == "tensor '" + lora_name(1, "v_proj", true) +
                                              "': rank 16 differs from rank 8 of tensor '" +
                                              lora_name(0, "q_proj", true) + "'");
  auto r8 = config_of(R"({"peft_type":"LORA","r":8,"lora_alpha":16})");
  BOOST_TEST(validate(toy(8), r8).ok());
  BOOST_TEST(contains(error_of(validate(toy(16), r8)),
                      "rank 16 does not match r = 8 in adapter_config.json"));
  auto no_r = config_of(R"({"peft_type":"LORA"})");
  BOOST_TEST(contains(error_of(validate(toy(16), no_r)), "(PEFT's default: r is absent)"));
}

BOOST_AUTO_TEST_CASE(shapes_follow_the_base_dimensions_per_module) {
  // toy-llama: hidden 64, intermediate 128, kv heads 2 x head_dim 16 = 32.
  const std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> in_out{
      {"q_proj", {64, 64}},    {"k_proj", {64, 32}},     {"v_proj", {64, 32}},
      {"o_proj", {64, 64}},    {"gate_proj", {64, 128}}, {"up_proj", {64, 128}},
      {"down_proj", {128, 64}}};
  for (const auto& [module, dims] : in_out) {
    const auto [in, out] = dims;
    auto wrong_in = toy(8, all_modules());
    find(wrong_in, lora_name(1, module, true))->shape = {8, in + 1};
    BOOST_TEST(error_of(validate(wrong_in)) ==
               "tensor '" + lora_name(1, module, true) + "': shape [8, " + std::to_string(in + 1) +
                   "] does not match base model toy-llama: " + module + " lora_A must be [r, " +
                   std::to_string(in) + "]");
    auto wrong_out = toy(8, all_modules());
    find(wrong_out, lora_name(1, module, false))->shape = {out == 64 ? 32u : 64u, 8};
    BOOST_TEST(contains(error_of(validate(wrong_out)),
                        module + " lora_B must be [" + std::to_string(out) + ", 8]"));
  }
  auto rank_column = toy();
  find(rank_column, lora_name(0, "q_proj", false))->shape = {64, 4};
  BOOST_TEST(
      contains(error_of(validate(rank_column)), "lora_B must be [64, 8] (rank 8 from its lora_A)"));
  auto flat = toy();
  find(flat, lora_name(0, "q_proj", true))->shape = {512};
  BOOST_TEST(
      contains(error_of(validate(flat)), "lora_A must have shape [r, in] with r >= 1, got [512]"));
  auto zero = toy();
  find(zero, lora_name(0, "q_proj", true))->shape = {0, 64};
  BOOST_TEST(contains(error_of(validate(zero)), "r >= 1, got [0, 64]"));
  auto three_d = toy();
  find(three_d, lora_name(0, "q_proj", false))->shape = {64, 8, 1};
  BOOST_TEST(contains(error_of(validate(three_d)), "shape [64, 8, 1] does not match"));
}

BOOST_AUTO_TEST_CASE(names_follow_the_llama_layout) {
  auto with_name = [](std::string name) {
    auto tensors = toy();
    tensors.push_back({std::move(name), "BF16", {8, 64}});
    return validate(tensors);
  };
  const std::string p = "base_model.model.";
  BOOST_TEST(error_of(with_name(p + "model.layers.2.self_attn.q_proj.lora_A.weight")) ==
             "tensor '" + p +
                 "model.layers.2.self_attn.q_proj.lora_A.weight': layer 2 is out of "
                 "range: base model toy-llama has 2 layers");
  BOOST_TEST(contains(error_of(with_name(p + "model.layers.01.self_attn.q_proj.lora_A.weight")),
                      "LoRA applies to model.layers.<n>"));
  BOOST_TEST(contains(error_of(with_name(p + "model.layers.x.self_attn.q_proj.lora_A.weight")),
                      "LoRA applies to model.layers.<n>"));
  BOOST_TEST(contains(error_of(with_name(p + "model.layers.0.self_attn.qkv_proj.lora_A.weight")),
                      "unknown module 'qkv_proj'"));
  BOOST_TEST(contains(error_of(with_name(p + "model.layers.0.mlp.q_proj.lora_A.weight")),
                      "LoRA applies to model.layers.<n>"));
  BOOST_TEST(
      contains(error_of(with_name(p + "model.layers.0.self_attn.q_proj.extra.lora_A.weight")),
               "unknown module 'q_proj.extra'"));
  BOOST_TEST(contains(error_of(with_name(p + "lm_head.lora_A.weight")),
                      "module 'lm_head' is not supported"));
  BOOST_TEST(contains(error_of(with_name(p + "model.embed_tokens.lora_embedding_A")),
                      "LoRA on embeddings"));
  BOOST_TEST(
      contains(error_of(with_name(p + "model.layers.0.self_attn.q_proj.lora_magnitude_vector")),
               "DoRA magnitude vectors"));
  BOOST_TEST(contains(error_of(with_name(p + "model.layers.0.self_attn.q_proj.lora_B.bias")),
                      "bias terms"));
  BOOST_TEST(contains(error_of(with_name(p + "lm_head.weight")), "not a LoRA weight"));
}

BOOST_AUTO_TEST_CASE(an_adapter_without_lora_tensors_is_rejected) {
  BOOST_TEST(error_of(validate({})) == "adapter_model.safetensors holds no LoRA tensors");
}

BOOST_AUTO_TEST_CASE(target_modules_cover_the_tensors) {
  auto qv = config_of(
      R"({"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":["q_proj","v_proj"]})");
  BOOST_TEST(validate(toy(8, {"q_proj", "v_proj"}), qv).ok());
  BOOST_TEST(error_of(validate(toy(8), qv)) == "tensor '" + lora_name(0, "k_proj", true) +
                                                   "': module k_proj is not in target_modules of "
                                                   "adapter_config.json");
  auto suffixes = config_of(
      R"({"peft_type":"LORA","r":8,"target_modules":["self_attn.q_proj","k_proj","v_proj","o_proj"]})");
  BOOST_TEST(validate(toy(8), suffixes).ok());
  auto not_a_suffix = config_of(R"({"peft_type":"LORA","r":8,"target_modules":["_proj"]})");
  BOOST_TEST(!validate(toy(8), not_a_suffix).ok());
  auto regex = config_of(R"({"peft_type":"LORA","r":8,"target_modules":".*q_proj"})");
  BOOST_TEST(validate(toy(8, all_modules()), regex).ok());
  auto all = config_of(R"({"peft_type":"LORA","r":8,"target_modules":"all-linear"})");
  BOOST_TEST(validate(toy(8, all_modules()), all).ok());
}

BOOST_AUTO_TEST_CASE(lora_alpha_resolution) {
  auto explicit16 = config_of(R"({"peft_type":"LORA","r":8,"lora_alpha":16})");
  auto absent = config_of(R"({"peft_type":"LORA","r":8})");
  BOOST_TEST(validate(toy(8))->lora_alpha == 8.0);
  BOOST_TEST(validate(toy(4))->lora_alpha == 4.0);
  BOOST_TEST(validate(toy(8), std::nullopt, toy_llama(), 64, 32.0)->lora_alpha == 32.0);
  BOOST_TEST(validate(toy(8), explicit16)->lora_alpha == 16.0);
  BOOST_TEST(validate(toy(8), explicit16, toy_llama(), 64, 16.0)->lora_alpha == 16.0);
  BOOST_TEST(
      contains(error_of(validate(toy(8), explicit16, toy_llama(), 64, 32.0)), "contradicts"));
  BOOST_TEST(validate(toy(8), absent, toy_llama(), 64, 32.0)->lora_alpha == 32.0);
  BOOST_TEST(validate(toy(16), config_of(R"({"peft_type":"LORA","r":16})"))->lora_alpha == 8.0);
  BOOST_TEST(contains(error_of(validate(toy(8), std::nullopt, toy_llama(), 64, 0.0)),
                      "lora_alpha: must be"));
  BOOST_TEST(contains(error_of(validate(toy(8), std::nullopt, toy_llama(), 64, std::nan(""))),
                      "lora_alpha"));
  auto rs = config_of(R"({"peft_type":"LORA","r":8,"use_rslora":true})");
  BOOST_TEST(validate(toy(8), rs)->use_rslora);
}

BOOST_AUTO_TEST_CASE(base_model_name_must_name_the_base) {
  const auto b8 = llama_8b();
  for (const char* same :
       {"meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Meta-Llama-3.1-8B-Instruct",
        "/models/Llama-3.1-8B-Instruct/", "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit",
        "meta-llama/Llama-3.1-8B", "llama-3.1-8b-instruct"}) {
    BOOST_TEST(base_model_matches(same, b8), same);
  }
  for (const char* other : {"meta-llama/Llama-3.1-70B-Instruct", "mistralai/Mistral-7B-v0.1",
                            "meta-llama/Meta-Llama-3-8B-Instruct", "", "/"}) {
    BOOST_TEST(!base_model_matches(other, b8), other);
  }
  auto wrong = config_of(
      R"({"peft_type":"LORA","r":8,"base_model_name_or_path":"mistralai/Mistral-7B-v0.1"})");
  BOOST_TEST(contains(
      error_of(validate(toy(8), wrong)),
      "base_model_name_or_path: 'mistralai/Mistral-7B-v0.1' does not name base model toy-llama"));
  auto right =
      config_of(R"({"peft_type":"LORA","r":8,"base_model_name_or_path":"loraplane/toy-llama"})");
  BOOST_TEST(validate(toy(8), right).ok());
}

BOOST_AUTO_TEST_CASE(quick_rank_check_reads_shapes_only) {
  auto r16 = quick_rank_check(header_of(lora_tensors(llama_70b(), LoraSpec{.rank = 16})), 64);
  BOOST_REQUIRE(r16.ok());
  BOOST_TEST(*r16 == 16);
  auto r128 = quick_rank_check(header_of(lora_tensors(llama_8b(), LoraSpec{.rank = 128})), 64);
  BOOST_REQUIRE(!r128.ok());
  BOOST_TEST(r128.error().message ==
             "tensor '" + lora_name(0, "q_proj", true) + "': rank 128 exceeds the limit of 64");
  auto b_only = toy(8);
  find(b_only, lora_name(1, "o_proj", false))->shape = {64, 100};
  BOOST_TEST(contains(quick_rank_check(header_of(b_only), 64).error().message, "rank 100 exceeds"));
  BOOST_TEST(!quick_rank_check(header_of({{"x.weight", "F32", {4, 4}}}), 64).ok());
}

BOOST_AUTO_TEST_SUITE_END()
