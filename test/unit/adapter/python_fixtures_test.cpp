// The adapters written by test/fixtures/make_adapters.py (real files from the `safetensors`
// package) get the outcome its manifest.json promises. Runs only when
// LORAPLANE_ADAPTER_FIXTURES names that output directory, so the unit suite needs no Python.
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

// The whole pipeline the validate worker runs on an upload.
Result<AdapterSummary> check_directory(const std::filesystem::path& dir) {
  std::optional<AdapterConfig> config;
  if (auto text = read_file(dir / "adapter_config.json")) {
    auto parsed = parse_adapter_config(*text);
    if (!parsed) return parsed.error();
    config = std::move(parsed).value();
  }
  auto bytes = read_file(dir / "adapter_model.safetensors");
  BOOST_REQUIRE(bytes.has_value());
  auto header = parse_safetensors_header(*bytes);
  if (!header) return header.error();
  if (auto status = check_file_size(*header, bytes->size()); !status) return status.error();
  return validate_adapter(*header, config, testing::toy_llama(), 64, std::nullopt);
}

}  // namespace

BOOST_AUTO_TEST_CASE(python_fixtures_match_their_manifest) {
  const char* root = std::getenv("LORAPLANE_ADAPTER_FIXTURES");
  if (root == nullptr) {
    BOOST_TEST_MESSAGE("LORAPLANE_ADAPTER_FIXTURES not set: skipped");
    return;
  }
  auto manifest = read_file(std::filesystem::path(root) / "manifest.json");
  BOOST_REQUIRE(manifest.has_value());
  const auto adapters = boost::json::parse(*manifest).at("adapters").as_array();
  BOOST_TEST(adapters.size() >= 19u);
  for (const auto& item : adapters) {
    const auto& entry = item.as_object();
    const std::string name(entry.at("name").as_string());
    BOOST_TEST_CONTEXT(name) {
      const auto result = check_directory(std::filesystem::path(root) / name);
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
