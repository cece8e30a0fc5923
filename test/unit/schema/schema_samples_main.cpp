// schema_samples DIR: writes every sample of samples.cpp as DIR/<Schema>[.<variant>].json and
// every invalid case the schemas must refuse as DIR/invalid/<Schema>.<n>.json, listed with the
// C++ parser's error in DIR/invalid/index.json. test/conformance/schema/test_schemas.py
// validates both sets against schema/json.
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "invalid_cases.hpp"
#include "samples.hpp"

namespace {

bool write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text << "\n";
  if (!file) std::cerr << "schema_samples: cannot write " << path << "\n";
  return static_cast<bool>(file);
}

bool write_invalid(const std::filesystem::path& dir) {
  boost::json::array index;
  std::size_t n = 0;
  for (const auto& c : loraplane::schema::testing::kSchemaCases) {
    const std::string name = std::string(c.schema) + "." + std::to_string(n++) + ".json";
    if (!write_file(dir / name, c.document())) return false;
    index.push_back(boost::json::object{
        {"file", name}, {"schema", c.schema}, {"path", c.path}, {"message", c.message}});
  }
  return write_file(dir / "index.json", boost::json::serialize(index));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: schema_samples DIR\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir / "invalid", ec);
  if (ec) {
    std::cerr << "schema_samples: cannot create " << dir << ": " << ec.message() << "\n";
    return 1;
  }
  for (const auto& sample : loraplane::schema::testing::all_samples()) {
    if (!write_file(dir / sample.file_name(), sample.json)) return 1;
  }
  return write_invalid(dir / "invalid") ? 0 : 1;
}
