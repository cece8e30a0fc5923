// Internal to schema/: small Boost.JSON helpers shared by the serialisers.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loraplane::schema::detail {

inline boost::json::array string_array(const std::vector<std::string>& items) {
  boost::json::array out;
  out.reserve(items.size());
  for (const auto& item : items) out.emplace_back(boost::json::string_view(item));
  return out;
}

inline void put(boost::json::object& out, std::string_view key, std::string_view value) {
  out[key] = boost::json::string_view(value);
}

// Absent optionals are omitted...
inline void put_optional(boost::json::object& out, std::string_view key,
                         const std::optional<std::string>& value) {
  if (value) put(out, key, *value);
}

// ...except nullable fields, which are always present.
inline void put_nullable(boost::json::object& out, std::string_view key,
                         const std::optional<std::string>& value) {
  if (value) {
    put(out, key, *value);
  } else {
    out[key] = nullptr;
  }
}

// Integral values are written as integers so that 16.0 reads back as 16, not 1.6E1.
inline boost::json::value number(double value) {
  constexpr double kExactLimit = 9007199254740992.0;  // 2^53
  if (std::isfinite(value) && std::fabs(value) < kExactLimit && std::trunc(value) == value) {
    return static_cast<std::int64_t>(value);
  }
  return value;
}

inline std::string serialize(const boost::json::object& value) {
  return boost::json::serialize(value);
}

}  // namespace loraplane::schema::detail
