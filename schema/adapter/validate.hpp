// Full validation of a LoRA adapter against its base model (ARCHITECTURE §4): tensor names,
// dtypes, A/B pairs, one rank within the tier limit, shapes from the catalog's dimensions, and
// agreement with adapter_config.json. Also the quick rank check the gateway runs mid-upload.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/model_catalog.hpp"
#include "common/result.hpp"
#include "schema/adapter/adapter_config.hpp"
#include "schema/adapter/safetensors.hpp"

namespace loraplane::adapter {

struct AdapterSummary {
  int rank = 0;
  double lora_alpha = 0;
  std::vector<std::string> target_modules;  // sorted unique module names, e.g. q_proj
  std::uint64_t size_bytes = 0;             // of adapter_model.safetensors
  std::uint32_t layers_covered = 0;         // decoder layers with at least one LoRA pair
  bool use_rslora = false;
};

// Tensor names: `base_model.model.model.layers.<n>.self_attn.{q,k,v,o}_proj.lora_{A,B}.weight`
// or `...mlp.{gate,up,down}_proj...`; the `base_model.model.` prefix is optional, as in vLLM.
// lora_alpha: the config's value; else `lora_alpha_override` (the upload's form field); else
// PEFT's default 8 when a config is present, r when there is none. An override that
// contradicts an explicit config value is an error. Every rejection is Errc::invalid_argument.
Result<AdapterSummary> validate_adapter(const SafetensorsHeader& header,
                                        const std::optional<AdapterConfig>& config,
                                        const BaseModel& base, int max_rank,
                                        std::optional<double> lora_alpha_override);

// The largest LoRA rank in the header (from lora_A [r, in] and lora_B [out, r] shapes); an
// error when it exceeds max_rank or there is no LoRA tensor at all. Cheap enough to run while
// the body still streams.
Result<int> quick_rank_check(const SafetensorsHeader& header, int max_rank);

// Whether adapter_config.json's base_model_name_or_path names `base`: the repo or our id, or a
// path or mirror whose last segment is the repo's name (case-insensitive, "Meta-" optional).
bool base_model_matches(std::string_view base_model_name_or_path, const BaseModel& base);

}  // namespace loraplane::adapter
