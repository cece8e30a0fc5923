// Parsing request bodies and adapter configs with simdjson, bounded in size and depth. The
// element returned lives in a per-thread parser: use it before the next parse_json call on the
// thread and never across a co_await.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace loraplane::sim_engine {

inline constexpr std::size_t kMaxJsonDepth = 64;

Result<simdjson::dom::element> parse_json(std::string_view text, std::size_t max_bytes);

// The value of `key` in `object`; nullopt when absent or null (pydantic treats both alike).
std::optional<simdjson::dom::element> field(simdjson::dom::object object, std::string_view key);

}  // namespace loraplane::sim_engine
