#include "workers/distribute/byte_range.hpp"

#include <charconv>
#include <optional>

namespace loraplane::distribute {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal digits only (no sign, no spaces); nullopt when empty, malformed or overflowing.
std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

RangeRequest whole(std::uint64_t size) { return {RangeKind::whole, {0, size}}; }

}  // namespace

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
  header = trim(header);
  constexpr std::string_view kUnit = "bytes=";
  if (header.size() < kUnit.size()) return whole(size);
  for (std::size_t i = 0; i < kUnit.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kUnit[i]) return whole(size);
  }
  auto spec = trim(header.substr(kUnit.size()));
  if (spec.find(',') != std::string_view::npos) return whole(size);
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return whole(size);
  auto first_text = trim(spec.substr(0, dash));
  auto last_text = trim(spec.substr(dash + 1));
  if (first_text.empty()) {  // suffix: the last n bytes
    auto n = parse_u64(last_text);
    if (!n) return whole(size);
    if (*n == 0 || size == 0) return {RangeKind::unsatisfiable, {}};
    auto length = *n < size ? *n : size;
    return {RangeKind::partial, {size - length, length}};
  }
  auto first = parse_u64(first_text);
  if (!first) return whole(size);
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!last_text.empty()) {
    auto parsed = parse_u64(last_text);
    if (!parsed || *parsed < *first) return whole(size);
    if (*parsed < last) last = *parsed;
  }
  if (*first >= size) return {RangeKind::unsatisfiable, {}};
  return {RangeKind::partial, {*first, last - *first + 1}};
}

std::string content_range(const RangeRequest& request, std::uint64_t size) {
  if (request.kind == RangeKind::unsatisfiable) return "bytes */" + std::to_string(size);
  auto last = request.range.offset + request.range.length - 1;
  return "bytes " + std::to_string(request.range.offset) + "-" + std::to_string(last) + "/" +
         std::to_string(size);
}

}  // namespace loraplane::distribute
