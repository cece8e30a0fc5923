// Full examples of every schema type (every optional field set, plus variants), shared by the
// round-trip tests and the schema_samples tool that the JSON Schema agreement test runs.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace loraplane::schema::testing {

inline constexpr std::string_view kSha256 =
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
inline constexpr std::string_view kCommitSha = "0123456789abcdef0123456789abcdef01234567";

struct Sample {
  std::string schema;   // file stem under schema/json: "<schema>.schema.json"
  std::string variant;  // "" for the main sample, else e.g. "import"
  std::string json;     // to_json of the typed example
  // parse<T> then to_json of the result; error when parse fails.
  std::function<Result<std::string>(std::string_view)> reserialize;

  std::string file_name() const {
    return variant.empty() ? schema + ".json" : schema + "." + variant + ".json";
  }
};

std::vector<Sample> all_samples();

// The error message of a failed result, "" for success (safe in Boost.Test messages, which
// are evaluated either way).
template <class T>
std::string error_of(const Result<T>& result) {
  return result.ok() ? std::string() : result.error().message;
}

// The reserialize function of `schema` (parse<T> → to_json), for error tests by schema name.
Result<std::string> reparse(std::string_view schema, std::string_view json);

}  // namespace loraplane::schema::testing
