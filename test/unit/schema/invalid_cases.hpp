// Invalid documents and the exact errors the parsers must report (see invalid_cases.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "samples.hpp"

namespace loraplane::schema::testing {

// The JSON of the sample (schema, variant); throws when there is none.
std::string sample_json(std::string_view schema, std::string_view variant = "");

// Sets (raw JSON) or erases (nullopt) the field at a dotted path; numeric parts index arrays.
std::string mutate(std::string_view json, std::string_view path,
                   std::optional<std::string_view> raw);

struct Case {
  std::string_view schema;
  std::string_view variant;
  std::string_view path;
  std::optional<std::string_view> raw;  // nullopt: remove the field
  std::string_view message;
  std::string document() const;  // the sample with the change applied
};

extern const std::vector<Case> kSchemaCases;   // the JSON Schema refuses these too
extern const std::vector<Case> kCppOnlyCases;  // relations a JSON Schema cannot express

}  // namespace loraplane::schema::testing
