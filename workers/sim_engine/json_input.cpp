#include "workers/sim_engine/json_input.hpp"

#include <algorithm>

namespace loraplane::sim_engine {

Result<simdjson::dom::element> parse_json(std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes)
    return make_error(Errc::limit_exceeded,
                      "JSON document larger than " + std::to_string(max_bytes) + " bytes");
  thread_local simdjson::dom::parser parser;
  const std::size_t capacity = std::max<std::size_t>(text.size(), 64);
  if (parser.capacity() < capacity || parser.max_depth() != kMaxJsonDepth) {
    if (parser.allocate(std::max(capacity, parser.capacity()), kMaxJsonDepth) != simdjson::SUCCESS)
      return make_error(Errc::internal, "out of memory for the JSON parser");
  }
  simdjson::dom::element root;
  auto code = parser.parse(text.data(), text.size(), true).get(root);
  if (code == simdjson::DEPTH_ERROR)
    return make_error(Errc::invalid_argument,
                      "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  if (code != simdjson::SUCCESS)
    return make_error(Errc::invalid_argument,
                      std::string("invalid JSON: ") + simdjson::error_message(code));
  return root;
}

std::optional<simdjson::dom::element> field(simdjson::dom::object object, std::string_view key) {
  simdjson::dom::element value;
  if (object.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
  if (value.is_null()) return std::nullopt;
  return value;
}

}  // namespace loraplane::sim_engine
