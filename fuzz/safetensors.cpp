// safetensors: parse_safetensors_header, the streaming HeaderReader, check_file_size, and the
// adapter validator (quick_rank_check, validate_adapter) on what parses.
// Input: the first bytes of an adapter_model.safetensors (prefix, header, maybe data).
// Invariants: the buffer parser and the HeaderReader fed in chunks agree; an accepted header
// tiles its data buffer exactly and survives write -> parse unchanged; an accepted adapter has
// one rank within the limit that the quick check also finds, and only supported modules.
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/model_catalog.hpp"
#include "fuzz/invariant.hpp"
#include "schema/adapter/adapter_config.hpp"
#include "schema/adapter/safetensors.hpp"
#include "schema/adapter/validate.hpp"

using namespace loraplane;
using namespace loraplane::adapter;

namespace {

using loraplane::fuzz::fail;

bool same_header(const SafetensorsHeader& a, const SafetensorsHeader& b, bool same_length) {
  if (same_length && a.header_length != b.header_length) return false;
  if (a.data_length != b.data_length || a.metadata != b.metadata) return false;
  if (a.tensors.size() != b.tensors.size()) return false;
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& x = a.tensors[i];
    const auto& y = b.tensors[i];
    if (x.name != y.name || x.dtype != y.dtype || x.shape != y.shape || x.begin != y.begin ||
        x.end != y.end)
      return false;
  }
  return true;
}

std::string le64(std::uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
  return out;
}

// The header written back: metadata first, then the tensors in data order.
std::string write_header(const SafetensorsHeader& h) {
  boost::json::object root;
  if (!h.metadata.empty()) {
    boost::json::object meta;
    for (const auto& [k, v] : h.metadata) meta[k] = v;
    root["__metadata__"] = std::move(meta);
  }
  for (const auto& t : h.tensors) {
    boost::json::array shape;
    for (auto d : t.shape) shape.emplace_back(d);
    root[t.name] = boost::json::object{{"dtype", t.dtype},
                                       {"shape", std::move(shape)},
                                       {"data_offsets", boost::json::array{t.begin, t.end}}};
  }
  const std::string json = boost::json::serialize(root);
  return le64(json.size()) + json;
}

void check_accepted(const SafetensorsHeader& h) {
  std::uint64_t expected = 0;
  std::set<std::string_view> names;
  for (const auto& t : h.tensors) {
    if (t.begin != expected) fail("tensors do not tile the data buffer");
    if (t.end < t.begin) fail("tensor ends before it begins");
    expected = t.end;
    if (!names.insert(t.name).second) fail("duplicate tensor name accepted");
    const auto bits = dtype_bits(t.dtype);
    if (!bits) fail("unknown dtype accepted");
    unsigned __int128 numel = 1;
    for (auto d : t.shape) numel *= d;  // shape entries are < 2^48 and the product was checked
    if (numel * *bits != static_cast<unsigned __int128>(t.end - t.begin) * 8)
      fail("tensor byte size does not match dtype and shape");
  }
  if (h.data_length != expected) fail("data_length is not the end of the last tensor");
  if (h.data_length >= (std::uint64_t{1} << 48)) fail("data_length beyond 2^48");
  std::set<std::string_view> keys;
  for (const auto& [k, v] : h.metadata)
    if (!keys.insert(k).second) fail("duplicate metadata key accepted");
}

// A toy Llama (small dimensions the fuzzer can hit) and Llama 3.1 8B's real ones.
BaseModel toy_base() {
  BaseModel b;
  b.id = "toy-llama";
  b.hf_repo = "fuzz/Toy-Llama";
  b.hidden_size = 64;
  b.intermediate_size = 160;
  b.num_layers = 4;
  b.num_heads = 4;
  b.num_kv_heads = 2;
  b.head_dim = 16;
  b.vocab_size = 1000;
  return b;
}

BaseModel llama_8b() {
  BaseModel b;
  b.id = "llama-3.1-8b-instruct";
  b.hf_repo = "meta-llama/Llama-3.1-8B-Instruct";
  b.hidden_size = 4096;
  b.intermediate_size = 14336;
  b.num_layers = 32;
  b.num_heads = 32;
  b.num_kv_heads = 8;
  b.head_dim = 128;
  b.vocab_size = 128256;
  return b;
}

std::optional<AdapterConfig> config_for(std::uint64_t pick) {
  static const char* kConfigs[] = {
      nullptr,
      R"({"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":["q_proj","v_proj"]})",
      R"({"peft_type":"LORA","r":4,"target_modules":"all-linear","use_rslora":true})",
      R"({"peft_type":"LORA","lora_alpha":32.5,"target_modules":["self_attn.q_proj","k_proj",)"
      R"("v_proj","o_proj","gate_proj","up_proj","down_proj"],"base_model_name_or_path":)"
      R"("meta-llama/Llama-3.1-8B-Instruct"})",
  };
  const char* text = kConfigs[pick % 4];
  if (text == nullptr) return std::nullopt;
  auto parsed = parse_adapter_config(text);
  if (!parsed) fail("a fixed adapter_config.json does not parse");
  return parsed.value();
}

void validate(const SafetensorsHeader& h, const BaseModel& base, std::uint64_t pick) {
  const int max_rank = pick % 3 == 0 ? 8 : 64;
  const auto quick = quick_rank_check(h, max_rank);
  const auto config = config_for(pick);
  const std::optional<double> override_alpha =
      pick % 5 == 0 ? std::optional<double>(16) : std::nullopt;
  const auto summary = validate_adapter(h, config, base, max_rank, override_alpha);
  if (!summary) {
    if (summary.error().code != Errc::invalid_argument) fail("validator error not invalid_argument");
    return;
  }
  if (!quick || quick.value() != summary->rank)
    fail("quick_rank_check disagrees with validate_adapter");
  if (summary->rank < 1 || summary->rank > max_rank) fail("accepted rank outside 1..max_rank");
  if (config && summary->rank != config->r) fail("accepted rank differs from the config's r");
  if (!std::isfinite(summary->lora_alpha) || summary->lora_alpha <= 0) fail("bad lora_alpha");
  if (summary->size_bytes != h.file_size()) fail("size_bytes is not the file size");
  if (summary->layers_covered < 1 ||
      summary->layers_covered > static_cast<std::uint64_t>(base.num_layers))
    fail("layers_covered out of range");
  static const std::set<std::string> kModules = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"};
  if (summary->target_modules.empty() ||
      !std::is_sorted(summary->target_modules.begin(), summary->target_modules.end()) ||
      std::adjacent_find(summary->target_modules.begin(), summary->target_modules.end()) !=
          summary->target_modules.end())
    fail("target_modules not sorted and unique");
  for (const auto& m : summary->target_modules)
    if (!kModules.contains(m)) fail("unsupported module accepted");
  for (const auto& t : h.tensors)
    if (t.dtype != "F16" && t.dtype != "BF16" && t.dtype != "F32") fail("bad dtype accepted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // A small cap some inputs reach, and the default.
  const std::uint64_t max_header = size % 7 == 0 ? 256 : kDefaultMaxHeaderBytes;
  const auto parsed = parse_safetensors_header(input, max_header);

  HeaderReader reader(max_header);
  std::uint32_t x = static_cast<std::uint32_t>(size) * 2654435761u + 7;
  for (std::size_t at = 0; at < size && reader.state() == HeaderReader::State::need_more;) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    const std::size_t n = std::min<std::size_t>(1 + x % 64, size - at);
    reader.feed(input.substr(at, n));
    at += n;
  }

  if (!parsed) {
    if (parsed.error().code != Errc::invalid_argument) fail("parse error not invalid_argument");
    // A header that is only cut short stays need_more in the reader; any other error is the
    // reader's error too.
    const std::string& message = parsed.error().message;
    bool short_input = size < kLengthPrefixBytes;
    if (!short_input) {
      std::uint64_t n = 0;
      for (std::size_t i = 0; i < kLengthPrefixBytes; ++i) n |= std::uint64_t{data[i]} << (8 * i);
      short_input = n >= 2 && n <= kFormatMaxHeaderBytes && n <= max_header &&
                    size - kLengthPrefixBytes < n;
    }
    if (short_input) {
      if (reader.state() != HeaderReader::State::need_more) fail("reader finished a short input");
    } else if (reader.state() != HeaderReader::State::failed || reader.error().message != message) {
      fail("reader and buffer parser disagree on an error");
    }
    return 0;
  }
  const SafetensorsHeader& header = parsed.value();
  if (reader.state() != HeaderReader::State::done) fail("reader did not accept what parsed");
  if (!same_header(header, reader.header(), true)) fail("reader and buffer parser disagree");
  if (reader.consumed() != kLengthPrefixBytes + header.header_length)
    fail("reader consumed more than the header");
  check_accepted(header);

  const bool exact = header.file_size() == size;
  if (check_file_size(header, size).ok() != exact) fail("check_file_size wrong");

  const std::string written = write_header(header);
  const auto reparsed = parse_safetensors_header(written);
  if (!reparsed) {
    std::fprintf(stderr, "%s\n", reparsed.error().message.c_str());
    fail("a written header does not parse");
  }
  if (!same_header(header, reparsed.value(), false)) fail("write -> parse changed the header");

  validate(header, toy_base(), header.header_length);
  validate(header, llama_8b(), header.header_length + 1);
  return 0;
}
