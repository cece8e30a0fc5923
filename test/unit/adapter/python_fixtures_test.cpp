// The adapters written by test/fixtures/make_adapters.py (real files from the `safetensors`
// package, and shape-correct Llama-3.1-8B/70B headers over sparse zero data) get the outcome its
// manifest.json promises. LORAPLANE_ADAPTER_FIXTURES names that output directory: the build sets
// it when the project's .venv exists (test/unit/adapter/CMakeLists.txt generates the fixtures in
// a ctest fixture). Without it the case is skipped, unless LORAPLANE_REQUIRE_ADAPTER_FIXTURES=1
// (ops/test), where a missing fixture directory is a failure.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "schema/adapter/validate.hpp"
#include "test/unit/adapter/fixtures.hpp"

using namespace loraplane;
using namespace loraplane::adapter;

namespace {

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The length prefix and the header only (the Llama fixtures carry hundreds of MB of zeros).
std::optional<std::string> read_header(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string prefix(8, '\0');
  if (!in.read(prefix.data(), 8)) return prefix.substr(0, static_cast<std::size_t>(in.gcount()));
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(prefix[i]);
  std::string header(static_cast<std::size_t>(std::min<std::uint64_t>(n, kFormatMaxHeaderBytes)),
                     '\0');
  in.read(header.data(), static_cast<std::streamsize>(header.size()));
  header.resize(static_cast<std::size_t>(in.gcount()));
  return prefix + header;
}

BaseModel base_named(const std::string& id) {
  for (const auto& base : {testing::toy_llama(), testing::llama_8b(), testing::llama_70b()})
    if (base.id == id) return base;
  BOOST_FAIL("manifest names an unknown base model " << id);
  return {};
}

// The whole pipeline the validate worker runs on an upload.
Result<AdapterSummary> check_directory(const std::filesystem::path& dir, const BaseModel& base) {
  std::optional<AdapterConfig> config;
  if (auto text = read_file(dir / "adapter_config.json")) {
    auto parsed = parse_adapter_config(*text);
    if (!parsed) return parsed.error();
    config = std::move(parsed).value();
  }
  const auto weights = dir / "adapter_model.safetensors";
  auto bytes = read_header(weights);
  BOOST_REQUIRE(bytes.has_value());
  auto header = parse_safetensors_header(*bytes);
  if (!header) return header.error();
  if (auto status = check_file_size(*header, std::filesystem::file_size(weights)); !status)
    return status.error();
  return validate_adapter(*header, config, base, 64, std::nullopt);
}

}  // namespace

BOOST_AUTO_TEST_CASE(python_fixtures_match_their_manifest) {
  const char* root = std::getenv("LORAPLANE_ADAPTER_FIXTURES");
  const char* required = std::getenv("LORAPLANE_REQUIRE_ADAPTER_FIXTURES");
  if (root == nullptr || *root == '\0') {
    BOOST_REQUIRE_MESSAGE(required == nullptr || std::string(required) != "1",
                          "LORAPLANE_ADAPTER_FIXTURES is not set but the Python fixtures are "
                          "required: run ops/setup (it makes .venv), then reconfigure");
    BOOST_TEST_MESSAGE("LORAPLANE_ADAPTER_FIXTURES not set: skipped");
    return;
  }
  auto manifest = read_file(std::filesystem::path(root) / "manifest.json");
  BOOST_REQUIRE_MESSAGE(manifest.has_value(), std::string("no manifest.json in ") + root);
  const auto adapters = boost::json::parse(*manifest).at("adapters").as_array();
  BOOST_TEST(adapters.size() >= 24u);
  for (const auto& item : adapters) {
    const auto& entry = item.as_object();
    const std::string name(entry.at("name").as_string());
    BOOST_TEST_CONTEXT(name) {
      const auto* base_id = entry.if_contains("base_model");
      const auto base = base_named(base_id ? std::string(base_id->as_string()) : "toy-llama");
      const auto result = check_directory(std::filesystem::path(root) / name, base);
      if (entry.at("expect").as_string() == "ok") {
        BOOST_REQUIRE_MESSAGE(result.ok(), testing::why(result));
        BOOST_TEST(result->rank == entry.at("rank").as_int64());
        BOOST_TEST(result->lora_alpha == entry.at("lora_alpha").to_number<double>());
        std::vector<std::string> modules;
        for (const auto& m : entry.at("target_modules").as_array())
          modules.emplace_back(m.as_string());
        BOOST_TEST(result->target_modules == modules);
      } else {
        BOOST_REQUIRE(!result.ok());
        const std::string expected(entry.at("error").as_string());
        BOOST_CHECK_MESSAGE(result.error().message.find(expected) != std::string::npos,
                            result.error().message << " should contain " << expected);
      }
    }
  }
}
