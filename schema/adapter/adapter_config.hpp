// adapter_config.json of a PEFT LoRA adapter: the bounded parser that rejects what vLLM cannot
// serve (DoRA, modules_to_save, per-module ranks, bias), and the writer of the config the agent
// puts next to the weights for vLLM.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace loraplane::adapter {

inline constexpr std::size_t kMaxConfigBytes = std::size_t{1024} * 1024;
inline constexpr std::size_t kMaxConfigDepth = 32;
// PEFT's LoraConfig defaults, used when the key is absent (PEFT would load it that way).
inline constexpr int kPeftDefaultRank = 8;
inline constexpr double kPeftDefaultAlpha = 8.0;

enum class TargetKind {
  unspecified,  // absent or null: PEFT picked the model's defaults; the tensors tell which
  list,         // module name suffixes ("q_proj", "self_attn.v_proj")
  regex,        // a Python regex matched in full against module paths
  all_linear,   // "all-linear"
};

struct AdapterConfig {
  int r = kPeftDefaultRank;
  bool r_explicit = false;
  double lora_alpha = kPeftDefaultAlpha;
  bool lora_alpha_explicit = false;
  bool use_rslora = false;  // scaling alpha / sqrt(r); vLLM supports it
  TargetKind target_kind = TargetKind::unspecified;
  std::vector<std::string> target_modules;  // when target_kind == list
  std::string target_regex;                 // when target_kind == regex
  std::optional<std::string> base_model_name_or_path;
  std::optional<std::string> task_type;
};

// Parses adapter_config.json (≤ kMaxConfigBytes, nesting ≤ kMaxConfigDepth). Unknown keys are
// ignored, as PEFT and vLLM do. Errors are Errc::invalid_argument naming the key.
Result<AdapterConfig> parse_adapter_config(std::string_view json);

// What vLLM needs to load an adapter.
struct VllmAdapterConfig {
  int r = 0;
  double lora_alpha = 0;
  std::vector<std::string> target_modules;  // short module names, e.g. q_proj
  std::string base_model_name_or_path;      // the base's Hugging Face repo
  bool use_rslora = false;
};

// adapter_config.json for vLLM: peft_type LORA, r, lora_alpha (an integer when it is one),
// target_modules as a list, base_model_name_or_path, bias "none", task_type CAUSAL_LM,
// use_rslora, use_dora false, modules_to_save null. Keys sorted, as PEFT writes them.
std::string render_adapter_config(const VllmAdapterConfig& config);

}  // namespace loraplane::adapter
