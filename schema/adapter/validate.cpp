// Adapter validation against a Llama-shaped base: name grammar, A/B pairing, rank, shapes,
// target_modules coverage, lora_alpha resolution.
#include "schema/adapter/validate.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

namespace loraplane::adapter {
namespace {

constexpr std::string_view kPeftPrefix = "base_model.model.";
constexpr std::string_view kLayersPrefix = "model.layers.";
constexpr std::string_view kSuffixA = ".lora_A.weight";
constexpr std::string_view kSuffixB = ".lora_B.weight";
constexpr std::size_t kMaxLayerDigits = 6;

// The sizes a projection's nn.Linear [out, in] is made of. q/o use heads * head_dim, which is
// the hidden size for every Llama; k/v project to the grouped kv heads.
enum class Dim { hidden, attention, kv, intermediate };

struct ModuleSpec {
  std::string_view name;
  std::string_view parent;
  Dim in;
  Dim out;
};

constexpr std::array<ModuleSpec, 7> kModules{{
    {"q_proj", "self_attn", Dim::hidden, Dim::attention},
    {"k_proj", "self_attn", Dim::hidden, Dim::kv},
    {"v_proj", "self_attn", Dim::hidden, Dim::kv},
    {"o_proj", "self_attn", Dim::attention, Dim::hidden},
    {"gate_proj", "mlp", Dim::hidden, Dim::intermediate},
    {"up_proj", "mlp", Dim::hidden, Dim::intermediate},
    {"down_proj", "mlp", Dim::intermediate, Dim::hidden},
}};

std::uint64_t dim_size(Dim dim, const BaseModel& base) {
  switch (dim) {
    case Dim::hidden:
      return static_cast<std::uint64_t>(base.hidden_size);
    case Dim::attention:
      return static_cast<std::uint64_t>(base.num_heads * base.head_dim);
    case Dim::kv:
      return static_cast<std::uint64_t>(base.num_kv_heads * base.head_dim);
    case Dim::intermediate:
      return static_cast<std::uint64_t>(base.intermediate_size);
  }
  return 0;
}

struct LoraName {
  std::uint32_t layer = 0;
  std::size_t module = 0;
  bool is_a = false;
};

struct Pair {
  const TensorInfo* a = nullptr;
  const TensorInfo* b = nullptr;
};

using PairMap = std::map<std::pair<std::uint32_t, std::size_t>, Pair>;

Error invalid(std::string message) {
  return make_error(Errc::invalid_argument, std::move(message));
}

Error tensor_error(std::string_view name, std::string_view what) {
  return invalid("tensor '" + display_name(name) + "': " + std::string(what));
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

Error not_a_lora_weight(std::string_view name) {
  if (name.find("lora_magnitude_vector") != std::string_view::npos) {
    return tensor_error(name, "DoRA magnitude vectors are not supported");
  }
  if (name.find("lora_embedding_") != std::string_view::npos) {
    return tensor_error(name, "LoRA on embeddings is not supported");
  }
  if (name.ends_with(".lora_A.bias") || name.ends_with(".lora_B.bias")) {
    return tensor_error(name, "LoRA bias terms are not supported");
  }
  return tensor_error(name, "not a LoRA weight: names end in .lora_A.weight or .lora_B.weight");
}

std::optional<std::uint32_t> parse_layer(std::string_view digits) {
  if (digits.empty() || digits.size() > kMaxLayerDigits) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  std::uint32_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return n;
}

Result<LoraName> parse_lora_name(std::string_view name, const BaseModel& base) {
  std::string_view rest = name;
  if (rest.starts_with(kPeftPrefix)) rest.remove_prefix(kPeftPrefix.size());
  LoraName out;
  if (rest.ends_with(kSuffixA)) {
    out.is_a = true;
  } else if (!rest.ends_with(kSuffixB)) {
    return not_a_lora_weight(name);
  }
  rest.remove_suffix(kSuffixA.size());
  const std::string supported =
      "LoRA applies to model.layers.<n>.self_attn.{q,k,v,o}_proj and "
      "model.layers.<n>.mlp.{gate,up,down}_proj";
  if (!rest.starts_with(kLayersPrefix)) {
    return tensor_error(name, "module '" + display_name(rest) + "' is not supported: " + supported);
  }
  rest.remove_prefix(kLayersPrefix.size());
  const auto dot = rest.find('.');
  const auto layer = parse_layer(rest.substr(0, dot));
  if (dot == std::string_view::npos || !layer) return tensor_error(name, supported);
  if (*layer >= base.num_layers) {
    return tensor_error(name, "layer " + std::to_string(*layer) + " is out of range: base model " +
                                  base.id + " has " + std::to_string(base.num_layers) + " layers");
  }
  out.layer = *layer;
  rest.remove_prefix(dot + 1);
  const auto dot2 = rest.find('.');
  if (dot2 == std::string_view::npos) return tensor_error(name, supported);
  const std::string_view parent = rest.substr(0, dot2);
  const std::string_view module = rest.substr(dot2 + 1);
  auto spec = std::find_if(kModules.begin(), kModules.end(),
                           [&](const ModuleSpec& m) { return m.name == module; });
  if (spec == kModules.end()) {
    return tensor_error(name, "unknown module '" + display_name(module) +
                                  "': expected q_proj, k_proj, v_proj, o_proj, gate_proj, "
                                  "up_proj or down_proj");
  }
  if (parent != spec->parent) return tensor_error(name, supported);
  out.module = static_cast<std::size_t>(spec - kModules.begin());
  return out;
}

std::string partner_name(std::string_view name, bool is_a) {
  std::string out(name.substr(0, name.size() - kSuffixA.size()));
  return out + std::string(is_a ? kSuffixB : kSuffixA);
}

Result<PairMap> collect_pairs(const SafetensorsHeader& header, const BaseModel& base) {
  PairMap pairs;
  for (const auto& t : header.tensors) {
    auto parsed = parse_lora_name(t.name, base);
    if (!parsed) return parsed.error();
    auto& pair = pairs[{parsed->layer, parsed->module}];
    const TensorInfo*& slot = parsed->is_a ? pair.a : pair.b;
    if (slot != nullptr) {
      return tensor_error(t.name, "names the same weight as tensor '" + display_name(slot->name) +
                                      "' (the base_model.model. prefix is optional)");
    }
    slot = &t;
  }
  for (const auto& [key, pair] : pairs) {
    const TensorInfo* present = pair.a != nullptr ? pair.a : pair.b;
    if (pair.a == nullptr || pair.b == nullptr) {
      const bool is_a = pair.a != nullptr;
      return tensor_error(present->name, std::string("has no matching ") +
                                             (is_a ? "lora_B" : "lora_A") + " tensor '" +
                                             display_name(partner_name(present->name, is_a)) + "'");
    }
  }
  return pairs;
}

// What every pair is checked against: the first pair's rank and the config's r.
struct RankRule {
  int max_rank = 0;
  const AdapterConfig* config = nullptr;
  std::uint64_t rank = 0;
  const TensorInfo* rank_source = nullptr;
};

Status check_pair(const Pair& pair, std::size_t module, const BaseModel& base, RankRule& rule) {
  const TensorInfo& a = *pair.a;
  const TensorInfo& b = *pair.b;
  const ModuleSpec& spec = kModules[module];
  const std::uint64_t in = dim_size(spec.in, base);
  const std::uint64_t out = dim_size(spec.out, base);
  const std::string_view module_name = spec.name;
  if (a.shape.size() != 2 || a.shape[0] == 0) {
    return tensor_error(a.name,
                        "lora_A must have shape [r, in] with r >= 1, got " + shape_text(a.shape));
  }
  const std::uint64_t r = a.shape[0];
  if (r > static_cast<std::uint64_t>(rule.max_rank)) {
    return tensor_error(a.name, "rank " + std::to_string(r) + " exceeds the limit of " +
                                    std::to_string(rule.max_rank));
  }
  const std::string expected =
      " does not match base model " + base.id + ": " + std::string(module_name);
  if (a.shape[1] != in) {
    return tensor_error(a.name, "shape " + shape_text(a.shape) + expected + " lora_A must be [r, " +
                                    std::to_string(in) + "]");
  }
  if (b.shape.size() != 2 || b.shape[0] != out || b.shape[1] != r) {
    return tensor_error(b.name, "shape " + shape_text(b.shape) + expected + " lora_B must be [" +
                                    std::to_string(out) + ", " + std::to_string(r) + "] (rank " +
                                    std::to_string(r) + " from its lora_A)");
  }
  if (rule.rank_source != nullptr && r != rule.rank) {
    return tensor_error(a.name, "rank " + std::to_string(r) + " differs from rank " +
                                    std::to_string(rule.rank) + " of tensor '" +
                                    display_name(rule.rank_source->name) + "'");
  }
  if (rule.config != nullptr && r != static_cast<std::uint64_t>(rule.config->r)) {
    return tensor_error(a.name,
                        "rank " + std::to_string(r) + " does not match r = " +
                            std::to_string(rule.config->r) + " in adapter_config.json" +
                            (rule.config->r_explicit ? "" : " (PEFT's default: r is absent)"));
  }
  if (rule.rank_source == nullptr) {
    rule.rank = r;
    rule.rank_source = &a;
  }
  return {};
}

// PEFT's list matching: a target names the module path or a dotted suffix of it.
bool targeted(const std::vector<std::string>& targets, std::string_view path) {
  return std::any_of(targets.begin(), targets.end(), [&](const std::string& t) {
    return path == t ||
           (path.size() > t.size() && path.ends_with(t) && path[path.size() - t.size() - 1] == '.');
  });
}

Status check_targets(const PairMap& pairs, const AdapterConfig& config) {
  if (config.target_kind != TargetKind::list) return {};  // regex / all-linear: not evaluated
  for (const auto& [key, pair] : pairs) {
    const auto& spec = kModules[key.second];
    const std::string path = std::string(kLayersPrefix) + std::to_string(key.first) + "." +
                             std::string(spec.parent) + "." + std::string(spec.name);
    if (!targeted(config.target_modules, path)) {
      return tensor_error(pair.a->name, "module " + std::string(spec.name) +
                                            " is not in target_modules of adapter_config.json");
    }
  }
  return {};
}

Result<double> resolve_alpha(const std::optional<AdapterConfig>& config, int rank,
                             std::optional<double> override_alpha) {
  if (override_alpha && (!std::isfinite(*override_alpha) || *override_alpha <= 0)) {
    return invalid("lora_alpha: must be a positive number");
  }
  if (!config) return override_alpha.value_or(static_cast<double>(rank));
  if (!config->lora_alpha_explicit) return override_alpha.value_or(kPeftDefaultAlpha);
  if (override_alpha && *override_alpha != config->lora_alpha) {
    return invalid(
        "lora_alpha: the form field's value contradicts lora_alpha in "
        "adapter_config.json; send one or the other");
  }
  return config->lora_alpha;
}

std::string normalised_model_name(std::string_view value) {
  while (!value.empty() && (value.back() == '/' || value.back() == '\\')) value.remove_suffix(1);
  const auto slash = value.find_last_of("/\\");
  if (slash != std::string_view::npos) value.remove_prefix(slash + 1);
  std::string name;
  for (char c : value)
    name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (name.starts_with("meta-")) name.erase(0, 5);
  for (bool changed = true; changed;) {
    changed = false;
    for (std::string_view suffix : {"-bnb-4bit", "-unsloth", "-instruct", "-hf"}) {
      if (name.size() > suffix.size() && name.ends_with(suffix)) {
        name.resize(name.size() - suffix.size());
        changed = true;
      }
    }
  }
  return name;
}

Status check_base(const AdapterConfig& config, const BaseModel& base) {
  if (!config.base_model_name_or_path || config.base_model_name_or_path->empty()) return {};
  if (base_model_matches(*config.base_model_name_or_path, base)) return {};
  return invalid("adapter_config.json: base_model_name_or_path: '" +
                 display_name(*config.base_model_name_or_path) + "' does not name base model " +
                 base.id + " (" + base.hf_repo + "); set it to that repo or remove it");
}

}  // namespace

bool base_model_matches(std::string_view value, const BaseModel& base) {
  const std::string name = normalised_model_name(value);
  if (name.empty()) return false;
  return name == normalised_model_name(base.hf_repo) || name == normalised_model_name(base.id);
}

Result<AdapterSummary> validate_adapter(const SafetensorsHeader& header,
                                        const std::optional<AdapterConfig>& config,
                                        const BaseModel& base, int max_rank,
                                        std::optional<double> lora_alpha_override) {
  if (base.kind == ModelKind::embedding) {
    return invalid("base model " + base.id +
                   " is an embedding model: LoRA adapters are not supported");
  }
  if (config && config->r > max_rank) {
    return invalid("adapter_config.json: r: rank " + std::to_string(config->r) +
                   " exceeds the limit of " + std::to_string(max_rank));
  }
  if (config) {
    if (auto status = check_base(*config, base); !status) return status.error();
  }
  for (const auto& t : header.tensors) {
    if (t.dtype != "F16" && t.dtype != "BF16" && t.dtype != "F32") {
      return tensor_error(t.name, "dtype " + t.dtype + " is not supported: use F16, BF16 or F32");
    }
  }
  auto pairs = collect_pairs(header, base);
  if (!pairs) return pairs.error();
  if (pairs->empty()) return invalid("adapter_model.safetensors holds no LoRA tensors");
  RankRule rule{max_rank, config ? &*config : nullptr};
  std::set<std::string> modules;
  std::set<std::uint32_t> layers;
  for (const auto& [key, pair] : *pairs) {
    if (auto status = check_pair(pair, key.second, base, rule); !status) return status.error();
    modules.emplace(kModules[key.second].name);
    layers.insert(key.first);
  }
  if (config) {
    if (auto status = check_targets(*pairs, *config); !status) return status.error();
  }
  AdapterSummary summary;
  summary.rank = static_cast<int>(rule.rank);
  auto alpha = resolve_alpha(config, summary.rank, lora_alpha_override);
  if (!alpha) return alpha.error();
  summary.lora_alpha = *alpha;
  summary.target_modules.assign(modules.begin(), modules.end());
  summary.size_bytes = header.file_size();
  summary.layers_covered = static_cast<std::uint32_t>(layers.size());
  summary.use_rslora = config && config->use_rslora;
  return summary;
}

Result<int> quick_rank_check(const SafetensorsHeader& header, int max_rank) {
  std::uint64_t largest = 0;
  for (const auto& t : header.tensors) {
    if (t.shape.size() != 2) continue;
    std::uint64_t r = 0;
    if (t.name.ends_with(kSuffixA)) {
      r = t.shape[0];
    } else if (t.name.ends_with(kSuffixB)) {
      r = t.shape[1];
    } else {
      continue;
    }
    if (r > static_cast<std::uint64_t>(max_rank)) {
      return tensor_error(t.name, "rank " + std::to_string(r) + " exceeds the limit of " +
                                      std::to_string(max_rank));
    }
    largest = std::max(largest, r);
  }
  if (largest == 0) {
    return invalid(
        "adapter_model.safetensors holds no LoRA tensors (names ending in "
        ".lora_A.weight / .lora_B.weight)");
  }
  return static_cast<int>(largest);
}

}  // namespace loraplane::adapter
