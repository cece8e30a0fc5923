// adapter_config.json: parsing PEFT's LoraConfig with the rules of §4 and writing vLLM's copy.
#include "schema/adapter/adapter_config.hpp"

#include <simdjson.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <limits>

#include "schema/adapter/json_impl.hpp"
#include "schema/adapter/safetensors.hpp"

namespace loraplane::adapter {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr std::int64_t kMaxRankValue = 65536;
constexpr std::size_t kMaxTargetModules = 1024;
constexpr std::size_t kMaxModuleNameBytes = 256;
constexpr std::size_t kMaxRegexBytes = 4096;
constexpr std::size_t kMaxBaseModelBytes = 1024;

Error invalid(std::string_view key, std::string_view what) {
  return make_error(Errc::invalid_argument,
                    "adapter_config.json: " + std::string(key) + ": " + std::string(what));
}

// The value of `key`, nullopt when absent or null (PEFT writes null for unset options).
std::optional<element> find_set(simdjson::dom::object object, std::string_view key) {
  element value;
  if (object.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) return std::nullopt;
  return value;
}

Status reject_duplicate_keys(simdjson::dom::object object) {
  std::vector<std::string_view> keys;
  for (auto field : object) keys.push_back(field.key);
  if (auto dup = detail::first_duplicate(std::move(keys))) {
    return invalid(display_name(*dup), "appears more than once");
  }
  return {};
}

Status read_peft_type(simdjson::dom::object object) {
  auto value = find_set(object, "peft_type");
  if (!value) return invalid("peft_type", "is required and must be \"LORA\"");
  std::string_view text;
  if (value->get_string().get(text) != simdjson::SUCCESS) {
    return invalid("peft_type", "must be \"LORA\"");
  }
  if (text != "LORA") {
    return invalid("peft_type", display_name(text) + " adapters are not supported; only LORA");
  }
  return {};
}

Status read_rank(simdjson::dom::object object, AdapterConfig& out) {
  element value;
  if (object.at_key("r").get(value) != simdjson::SUCCESS) return {};
  if (value.type() != element_type::INT64 || value.get_int64().value_unsafe() < 1 ||
      value.get_int64().value_unsafe() > kMaxRankValue) {
    return invalid("r",
                   "must be a positive integer (at most " + std::to_string(kMaxRankValue) + ")");
  }
  out.r = static_cast<int>(value.get_int64().value_unsafe());
  out.r_explicit = true;
  return {};
}

Status read_alpha(simdjson::dom::object object, AdapterConfig& out) {
  element value;
  if (object.at_key("lora_alpha").get(value) != simdjson::SUCCESS) return {};
  double alpha = 0;
  if (!value.is_number() || value.get_double().get(alpha) != simdjson::SUCCESS ||
      !std::isfinite(alpha) || alpha <= 0) {
    return invalid("lora_alpha", "must be a positive number");
  }
  out.lora_alpha = alpha;
  out.lora_alpha_explicit = true;
  return {};
}

Status read_flag(simdjson::dom::object object, std::string_view key, bool& out) {
  auto value = find_set(object, key);
  if (!value) return {};
  if (value->get_bool().get(out) != simdjson::SUCCESS) return invalid(key, "must be true or false");
  return {};
}

Status read_target_list(simdjson::dom::array items, AdapterConfig& out) {
  if (items.size() == 0) return invalid("target_modules", "must not be an empty list");
  if (items.size() > kMaxTargetModules) {
    return invalid("target_modules",
                   "must have at most " + std::to_string(kMaxTargetModules) + " items");
  }
  for (element item : items) {
    std::string_view name;
    if (item.get_string().get(name) != simdjson::SUCCESS || name.empty() ||
        name.size() > kMaxModuleNameBytes) {
      return invalid("target_modules", "items must be module names (1-" +
                                           std::to_string(kMaxModuleNameBytes) + " bytes)");
    }
    out.target_modules.emplace_back(name);
  }
  std::sort(out.target_modules.begin(), out.target_modules.end());
  out.target_modules.erase(std::unique(out.target_modules.begin(), out.target_modules.end()),
                           out.target_modules.end());
  out.target_kind = TargetKind::list;
  return {};
}

Status read_targets(simdjson::dom::object object, AdapterConfig& out) {
  auto value = find_set(object, "target_modules");
  if (!value) return {};
  simdjson::dom::array items;
  if (value->get_array().get(items) == simdjson::SUCCESS) return read_target_list(items, out);
  std::string_view text;
  if (value->get_string().get(text) != simdjson::SUCCESS) {
    return invalid("target_modules", "must be a list of module names or a regex string");
  }
  if (text.empty() || text.size() > kMaxRegexBytes) {
    return invalid("target_modules",
                   "regex must be 1-" + std::to_string(kMaxRegexBytes) + " bytes");
  }
  if (text == "all-linear") {
    out.target_kind = TargetKind::all_linear;
  } else {
    out.target_kind = TargetKind::regex;
    out.target_regex = std::string(text);
  }
  return {};
}

Status read_optional_string(simdjson::dom::object object, std::string_view key, std::size_t max,
                            std::optional<std::string>& out) {
  auto value = find_set(object, key);
  if (!value) return {};
  std::string_view text;
  if (value->get_string().get(text) != simdjson::SUCCESS || text.size() > max) {
    return invalid(key, "must be a string of at most " + std::to_string(max) + " bytes");
  }
  out = std::string(text);
  return {};
}

// Options vLLM cannot honour: reject them rather than serve something other than what was
// trained. vLLM silently ignores rank_pattern/alpha_pattern and would apply one scaling
// (lora_alpha / r) to every module.
Status reject_unsupported(simdjson::dom::object object) {
  bool flag = false;
  if (auto status = read_flag(object, "use_dora", flag); !status) return status;
  if (flag) return invalid("use_dora", "DoRA adapters are not supported");
  flag = false;
  if (auto status = read_flag(object, "lora_bias", flag); !status) return status;
  if (flag) return invalid("lora_bias", "LoRA bias terms are not supported");
  if (auto value = find_set(object, "modules_to_save")) {
    simdjson::dom::array items;
    if (value->get_array().get(items) != simdjson::SUCCESS) {
      return invalid("modules_to_save", "must be null or a list");
    }
    if (items.size() != 0) {
      return invalid("modules_to_save", "adapters that also save full modules (" +
                                            display_name(simdjson::minify(*value)) +
                                            ") are not supported by vLLM");
    }
  }
  for (std::string_view key : {"rank_pattern", "alpha_pattern"}) {
    auto value = find_set(object, key);
    if (!value) continue;
    simdjson::dom::object pattern;
    if (value->get_object().get(pattern) != simdjson::SUCCESS)
      return invalid(key, "must be an object");
    if (pattern.size() != 0) {
      return invalid(key,
                     "per-module ranks and alphas are not supported: vLLM applies one r and "
                     "lora_alpha to every module");
    }
  }
  if (auto value = find_set(object, "bias")) {
    std::string_view text;
    if (value->get_string().get(text) != simdjson::SUCCESS || text != "none") {
      return invalid("bias", "only \"none\" is supported (vLLM loads no bias terms)");
    }
  }
  return {};
}

Status read_config(simdjson::dom::object object, AdapterConfig& out) {
  if (auto s = reject_duplicate_keys(object); !s) return s;
  if (auto s = read_peft_type(object); !s) return s;
  if (auto s = reject_unsupported(object); !s) return s;
  if (auto s = read_rank(object, out); !s) return s;
  if (auto s = read_alpha(object, out); !s) return s;
  if (auto s = read_flag(object, "use_rslora", out.use_rslora); !s) return s;
  if (auto s = read_targets(object, out); !s) return s;
  if (auto s = read_optional_string(object, "base_model_name_or_path", kMaxBaseModelBytes,
                                    out.base_model_name_or_path);
      !s) {
    return s;
  }
  return read_optional_string(object, "task_type", kMaxModuleNameBytes, out.task_type);
}

}  // namespace

Result<AdapterConfig> parse_adapter_config(std::string_view json) {
  if (json.size() > kMaxConfigBytes) {
    return make_error(Errc::invalid_argument, "adapter_config.json: larger than " +
                                                  std::to_string(kMaxConfigBytes) + " bytes");
  }
  simdjson::dom::parser parser;
  auto root = detail::load_json(parser, json, kMaxConfigDepth, "adapter_config.json");
  if (!root) return root.error();
  simdjson::dom::object object;
  if (root->get_object().get(object) != simdjson::SUCCESS) {
    return make_error(Errc::invalid_argument, "adapter_config.json: must be a JSON object");
  }
  AdapterConfig config;
  if (auto status = read_config(object, config); !status) return status.error();
  return config;
}

std::string render_adapter_config(const VllmAdapterConfig& config) {
  boost::json::object out;
  out["base_model_name_or_path"] = config.base_model_name_or_path;
  out["bias"] = "none";
  const double alpha = config.lora_alpha;
  if (std::floor(alpha) == alpha && std::fabs(alpha) < 1e15) {
    out["lora_alpha"] = static_cast<std::int64_t>(alpha);
  } else {
    out["lora_alpha"] = alpha;
  }
  out["modules_to_save"] = nullptr;
  out["peft_type"] = "LORA";
  out["r"] = config.r;
  boost::json::array targets;
  for (const auto& name : config.target_modules) targets.emplace_back(name);
  out["target_modules"] = std::move(targets);
  out["task_type"] = "CAUSAL_LM";
  out["use_dora"] = false;
  out["use_rslora"] = config.use_rslora;
  return boost::json::serialize(out);
}

}  // namespace loraplane::adapter
