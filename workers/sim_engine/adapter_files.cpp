// vLLM references: vllm/lora/worker_manager.py (_load_adapter: FileNotFoundError → "Loading lora
// <name> failed: No adapter found for <path>"), vllm/lora/peft_helper.py (required fields,
// DoRA, modules_to_save, bias, rank), vllm/lora/models.py ("<dir> doesn't contain tensors"),
// and the safetensors reader ("Error while deserializing header: ..."; the detail after the
// colon is schema/adapter's message, not safetensors' variant name).
#include "workers/sim_engine/adapter_files.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "schema/adapter/safetensors.hpp"
#include "workers/sim_engine/json_input.hpp"

namespace loraplane::sim_engine {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxConfigBytes = 1024 * 1024;
// The format allows 100 MB of header; we read at most this much on the I/O thread.
constexpr std::uint64_t kMaxHeaderBytes = adapter::kDefaultMaxHeaderBytes;

Error header_error(std::string_view detail) {
  return make_error(Errc::invalid_argument,
                    "Error while deserializing header: " + std::string(detail));
}

std::string expand_home(const std::string& path) {
  if (path.empty() || path[0] != '~') return path;
  const char* home = std::getenv("HOME");
  return home ? std::string(home) + path.substr(1) : path;
}

std::optional<std::string> read_small_file(const fs::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string data(max_bytes + 1, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  return data;
}

}  // namespace

Status check_safetensors(const std::string& path, std::uint64_t file_size) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(adapter::kLengthPrefixBytes, '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size())))
    return header_error("HeaderTooSmall");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  // Read no more than the header the parser accepts; it rejects larger lengths by itself.
  const std::uint64_t want = std::min({n, kMaxHeaderBytes, file_size - bytes.size()});
  bytes.resize(bytes.size() + want);
  in.read(bytes.data() + adapter::kLengthPrefixBytes, static_cast<std::streamsize>(want));
  bytes.resize(adapter::kLengthPrefixBytes + static_cast<std::size_t>(in.gcount()));
  auto header = adapter::parse_safetensors_header(bytes, kMaxHeaderBytes);
  if (!header) return header_error(header.error().message);
  if (auto size = adapter::check_file_size(*header, file_size); !size)
    return header_error(size.error().message);
  return {};
}

namespace {

// PEFTHelper: required fields, then the features and limits vLLM refuses, all in one message.
Result<int> check_config(std::string_view text, int max_lora_rank) {
  auto root = parse_json(text, kMaxConfigBytes);
  simdjson::dom::object config;
  if (!root || root->get_object().get(config))
    return make_error(Errc::invalid_argument,
                      "adapter_config.json is not a JSON object" +
                          (root ? std::string() : " (" + root.error().message + ")"));
  std::set<std::string> missing;
  for (const char* key : {"r", "lora_alpha", "target_modules"})
    if (config.at_key(key).error()) missing.insert(key);
  if (!missing.empty()) {
    std::string list;
    for (const auto& key : missing) list += (list.empty() ? "'" : ", '") + key + "'";
    return make_error(Errc::invalid_argument,
                      "Missing required configuration fields: {" + list + "}");
  }
  std::int64_t r = 0;
  if (config["r"].get_int64().get(r) || r < 1)
    return make_error(Errc::invalid_argument, "adapter_config.json: r must be a positive integer");
  std::vector<std::string> problems;
  if (auto m = field(config, "modules_to_save");
      m && !(m->is_array() && m->get_array().size() == 0))
    problems.emplace_back("vLLM only supports modules_to_save being None.");
  if (auto d = field(config, "use_dora"); d && d->is_bool() && d->get_bool().value())
    problems.emplace_back("vLLM does not yet support DoRA.");
  if (r > max_lora_rank)
    problems.push_back("LoRA rank " + std::to_string(r) + " is greater than max_lora_rank " +
                       std::to_string(max_lora_rank) + ".");
  std::string_view bias = "none";
  if (auto b = field(config, "bias"); b && b->is_string()) bias = b->get_string().value();
  if (bias != "none") problems.emplace_back("Adapter bias cannot be used without bias_enabled.");
  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems) message += (message.empty() ? "" : " ") + p;
    return make_error(Errc::invalid_argument, std::move(message));
  }
  return static_cast<int>(r);
}

}  // namespace

Result<AdapterFiles> read_adapter_dir(const std::string& lora_name, const std::string& lora_path,
                                      int max_lora_rank) {
  const fs::path dir = expand_home(lora_path);
  std::error_code ec;
  auto not_found = [&] {
    return make_error(Errc::not_found,
                      "Loading lora " + lora_name + " failed: No adapter found for " + lora_path);
  };
  if (!fs::is_directory(dir, ec) || !fs::is_regular_file(dir / "adapter_config.json", ec))
    return not_found();
  auto text = read_small_file(dir / "adapter_config.json", kMaxConfigBytes);
  if (!text) return not_found();
  if (text->size() > kMaxConfigBytes)
    return make_error(Errc::invalid_argument, "adapter_config.json is larger than 1 MiB");
  auto rank = check_config(*text, max_lora_rank);
  if (!rank) return rank.error();

  const fs::path weights = dir / "adapter_model.safetensors";
  if (fs::is_regular_file(weights, ec)) {
    auto size = fs::file_size(weights, ec);
    if (ec) return not_found();
    if (auto st = check_safetensors(weights.string(), size); !st) return st.error();
    return AdapterFiles{*rank, size};
  }
  const fs::path bin = dir / "adapter_model.bin";  // vLLM falls back to torch.load
  if (fs::is_regular_file(bin, ec)) {
    auto size = fs::file_size(bin, ec);
    if (!ec) return AdapterFiles{*rank, size};
  }
  return make_error(Errc::invalid_argument, dir.string() + " doesn't contain tensors");
}

}  // namespace loraplane::sim_engine
