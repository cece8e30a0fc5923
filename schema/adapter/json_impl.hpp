// Internal to schema/adapter: bounded simdjson DOM loading shared by the safetensors header and
// adapter_config.json parsers. simdjson stays a private dependency of loraplane_adapter.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace loraplane::adapter::detail {

// Parses `json` into `parser` (which owns the DOM) with at most `max_depth` nesting levels, the
// root counting as one. Errors start with `what`, e.g. "adapter_config.json: invalid JSON (...)".
inline Result<simdjson::dom::element> load_json(simdjson::dom::parser& parser,
                                                std::string_view json, std::size_t max_depth,
                                                std::string_view what) {
  if (parser.allocate(std::max<std::size_t>(json.size(), 64), max_depth) != simdjson::SUCCESS) {
    return make_error(Errc::internal, std::string(what) + ": out of memory for the JSON parser");
  }
  simdjson::dom::element root;
  const auto code = parser.parse(json.data(), json.size(), true).get(root);
  if (code == simdjson::DEPTH_ERROR) {
    return make_error(Errc::invalid_argument, std::string(what) + ": nested deeper than " +
                                                  std::to_string(max_depth) + " levels");
  }
  if (code != simdjson::SUCCESS) {
    return make_error(Errc::invalid_argument,
                      std::string(what) + ": invalid JSON (" + simdjson::error_message(code) + ")");
  }
  return root;
}

// A name that occurs twice in `names` (which gets sorted), if any.
inline std::optional<std::string_view> first_duplicate(std::vector<std::string_view> names) {
  std::sort(names.begin(), names.end());
  auto dup = std::adjacent_find(names.begin(), names.end());
  if (dup == names.end()) return std::nullopt;
  return *dup;
}

}  // namespace loraplane::adapter::detail
