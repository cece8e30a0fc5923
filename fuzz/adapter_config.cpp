// adapter_config.json: parse_adapter_config, render_adapter_config and base_model_matches.
// Input: the file's bytes. Invariants: what parses is within PEFT's and our bounds; the config
// the agent writes for vLLM from it parses back to the same r, lora_alpha, modules, base and
// rslora flag, and rendering is deterministic.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/model_catalog.hpp"
#include "fuzz/invariant.hpp"
#include "schema/adapter/adapter_config.hpp"
#include "schema/adapter/validate.hpp"

using namespace loraplane;
using namespace loraplane::adapter;

namespace {

using loraplane::fuzz::fail;

void check_bounds(const AdapterConfig& c) {
  if (c.r < 1 || c.r > 65536) fail("r out of 1..65536");
  if (!c.r_explicit && c.r != kPeftDefaultRank) fail("absent r is not PEFT's default");
  if (!std::isfinite(c.lora_alpha) || c.lora_alpha <= 0) fail("lora_alpha not positive");
  if (!c.lora_alpha_explicit && c.lora_alpha != kPeftDefaultAlpha)
    fail("absent lora_alpha is not PEFT's default");
  switch (c.target_kind) {
    case TargetKind::list:
      if (c.target_modules.empty() || c.target_modules.size() > 1024) fail("target list size");
      if (!std::is_sorted(c.target_modules.begin(), c.target_modules.end()) ||
          std::adjacent_find(c.target_modules.begin(), c.target_modules.end()) !=
              c.target_modules.end())
        fail("target list not sorted and unique");
      for (const auto& m : c.target_modules)
        if (m.empty() || m.size() > 256) fail("target module name length");
      if (!c.target_regex.empty()) fail("a list config carries a regex");
      break;
    case TargetKind::regex:
      if (c.target_regex.empty() || c.target_regex.size() > 4096) fail("regex length");
      [[fallthrough]];
    default:
      if (!c.target_modules.empty()) fail("a non-list config carries modules");
  }
  if (c.base_model_name_or_path && c.base_model_name_or_path->size() > 1024)
    fail("base_model_name_or_path too long");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto parsed = parse_adapter_config(input);

  BaseModel base;
  base.id = "llama-3.1-8b-instruct";
  base.hf_repo = "meta-llama/Llama-3.1-8B-Instruct";
  // Must not crash on any text; the same text always gives the same answer.
  if (base_model_matches(input, base) != base_model_matches(std::string(input), base))
    fail("base_model_matches not deterministic");

  if (!parsed) {
    if (parsed.error().code != Errc::invalid_argument) fail("error not invalid_argument");
    if (!parsed.error().message.starts_with("adapter_config.json: ")) fail("error not prefixed");
    return 0;
  }
  const AdapterConfig& config = parsed.value();
  check_bounds(config);

  VllmAdapterConfig out;
  out.r = config.r;
  out.lora_alpha = config.lora_alpha;
  out.target_modules = config.target_modules;
  if (out.target_modules.empty()) out.target_modules = {"q_proj", "v_proj"};
  out.base_model_name_or_path = config.base_model_name_or_path.value_or(base.hf_repo);
  out.use_rslora = config.use_rslora;
  const std::string rendered = render_adapter_config(out);
  if (rendered != render_adapter_config(out)) fail("render not deterministic");

  const auto again = parse_adapter_config(rendered);
  if (!again) {
    std::fprintf(stderr, "%s\n%s\n", rendered.c_str(), again.error().message.c_str());
    fail("the rendered vLLM config does not parse");
  }
  check_bounds(again.value());
  if (again->r != out.r || !again->r_explicit) fail("render -> parse changed r");
  if (again->lora_alpha != out.lora_alpha || !again->lora_alpha_explicit)
    fail("render -> parse changed lora_alpha");
  if (again->target_kind != TargetKind::list || again->target_modules != out.target_modules)
    fail("render -> parse changed target_modules");
  if (again->base_model_name_or_path != out.base_model_name_or_path)
    fail("render -> parse changed base_model_name_or_path");
  if (again->use_rslora != out.use_rslora) fail("render -> parse changed use_rslora");
  if (again->task_type != "CAUSAL_LM") fail("render -> parse changed task_type");
  return 0;
}
