// Test fixtures without Python: safetensors headers for LoRA adapters of any Llama-shaped base
// (8B and 70B included) built from shapes alone, with offsets laid out back to back, and whole
// files with zeroed data for toy-sized adapters.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/model_catalog.hpp"
#include "schema/adapter/safetensors.hpp"

namespace loraplane::adapter::testing {

struct TensorSpec {
  std::string name;
  std::string dtype = "BF16";
  std::vector<std::uint64_t> shape;
};

// The error message of a failed result, empty otherwise (BOOST_*_MESSAGE evaluates it eagerly).
template <class T>
std::string why(const Result<T>& result) {
  return result.ok() ? std::string() : result.error().message;
}

// The message of a result that must fail as invalid input.
template <class T>
std::string invalid_message(const Result<T>& result) {
  BOOST_REQUIRE_MESSAGE(!result.ok(), "expected an error");
  BOOST_TEST((result.error().code == Errc::invalid_argument));
  return result.error().message;
}

inline bool contains(const std::string& text, std::string_view part) {
  const bool found = text.find(part) != std::string::npos;
  if (!found) BOOST_TEST_MESSAGE("'" << text << "' does not contain '" << part << "'");
  return found;
}

inline std::string le64(std::uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

// The 8-byte length prefix followed by `json`.
inline std::string frame(std::string_view json) { return le64(json.size()) + std::string(json); }

inline std::uint64_t byte_size(const TensorSpec& t) {
  std::uint64_t n = 1;
  for (auto d : t.shape) n *= d;
  return n * *dtype_bits(t.dtype) / 8;
}

inline std::uint64_t data_bytes(const std::vector<TensorSpec>& tensors) {
  std::uint64_t total = 0;
  for (const auto& t : tensors) total += byte_size(t);
  return total;
}

inline std::string shape_json(const std::vector<std::uint64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

// Header JSON with the tensors' data in the given order, plus {"format":"pt"} metadata.
inline std::string header_json(const std::vector<TensorSpec>& tensors) {
  std::string out = "{\"__metadata__\":{\"format\":\"pt\"}";
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    const std::uint64_t end = offset + byte_size(t);
    out += ",\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":" + shape_json(t.shape) +
           ",\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(end) + "]}";
    offset = end;
  }
  return out + "}";
}

inline std::string header_bytes(const std::vector<TensorSpec>& tensors) {
  return frame(header_json(tensors));
}

// A whole file, data zeroed: only for small adapters.
inline std::string file_bytes(const std::vector<TensorSpec>& tensors) {
  return header_bytes(tensors) + std::string(data_bytes(tensors), '\0');
}

inline BaseModel make_base(std::string id, std::string repo, ModelKind kind, std::int64_t hidden,
                           std::int64_t inter, std::int64_t layers, std::int64_t heads,
                           std::int64_t kv_heads, std::int64_t head_dim, std::int64_t vocab) {
  return BaseModel{std::move(id), std::move(repo), kind,     hidden,   inter,
                   layers,        heads,           kv_heads, head_dim, vocab};
}

// The catalog's entries (ops/models.json); a test checks they agree with the file.
inline BaseModel toy_llama() {
  return make_base("toy-llama", "loraplane/toy-llama", ModelKind::chat, 64, 128, 2, 4, 2, 16, 256);
}
inline BaseModel llama_8b() {
  return make_base("llama-3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct", ModelKind::chat,
                   4096, 14336, 32, 32, 8, 128, 128256);
}
inline BaseModel llama_70b() {
  return make_base("llama-3.1-70b-instruct", "meta-llama/Llama-3.1-70B-Instruct", ModelKind::chat,
                   8192, 28672, 80, 64, 8, 128, 128256);
}
inline BaseModel bge_m3() {
  return make_base("bge-m3", "BAAI/bge-m3", ModelKind::embedding, 1024, 4096, 24, 16, 16, 64,
                   250002);
}

inline const std::vector<std::string>& qkvo() {
  static const std::vector<std::string> kModules{"q_proj", "k_proj", "v_proj", "o_proj"};
  return kModules;
}
inline const std::vector<std::string>& all_modules() {
  static const std::vector<std::string> kModules{"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"};
  return kModules;
}

inline std::string module_path(std::uint32_t layer, std::string_view module) {
  const bool mlp = module == "gate_proj" || module == "up_proj" || module == "down_proj";
  return "model.layers." + std::to_string(layer) + (mlp ? ".mlp." : ".self_attn.") +
         std::string(module);
}

inline std::string lora_name(std::uint32_t layer, std::string_view module, bool a,
                             bool prefix = true) {
  return (prefix ? "base_model.model." : "") + module_path(layer, module) +
         (a ? ".lora_A.weight" : ".lora_B.weight");
}

// nn.Linear [in, out] of a Llama projection.
inline std::pair<std::uint64_t, std::uint64_t> in_out(const BaseModel& b, std::string_view m) {
  const auto hidden = static_cast<std::uint64_t>(b.hidden_size);
  const auto inter = static_cast<std::uint64_t>(b.intermediate_size);
  const auto kv = static_cast<std::uint64_t>(b.num_kv_heads * b.head_dim);
  if (m == "k_proj" || m == "v_proj") return {hidden, kv};
  if (m == "gate_proj" || m == "up_proj") return {hidden, inter};
  if (m == "down_proj") return {inter, hidden};
  return {hidden, hidden};  // q_proj, o_proj
}

struct LoraSpec {
  std::uint64_t rank = 8;
  std::vector<std::string> modules = qkvo();
  std::string dtype = "BF16";
  bool prefix = true;
};

// lora_A [r, in] and lora_B [out, r] for every module of every layer, as PEFT names them.
inline std::vector<TensorSpec> lora_tensors(const BaseModel& base, const LoraSpec& spec) {
  std::vector<TensorSpec> out;
  for (std::uint32_t layer = 0; layer < base.num_layers; ++layer) {
    for (const auto& m : spec.modules) {
      const auto [in, o] = in_out(base, m);
      out.push_back({lora_name(layer, m, true, spec.prefix), spec.dtype, {spec.rank, in}});
      out.push_back({lora_name(layer, m, false, spec.prefix), spec.dtype, {o, spec.rank}});
    }
  }
  return out;
}

}  // namespace loraplane::adapter::testing
