// HTTP Range requests on a blob (RFC 9110 §14): one byte range, `bytes=a-b`, `bytes=a-` or
// `bytes=-n`. A header we cannot use (malformed, other unit, several ranges) is ignored and the
// whole blob is served, as the RFC allows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loraplane::distribute {

struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

enum class RangeKind { whole, partial, unsatisfiable };

struct RangeRequest {
  RangeKind kind = RangeKind::whole;
  ByteRange range;  // for whole: the full blob; for unsatisfiable: empty
};

RangeRequest parse_range(std::string_view header, std::uint64_t size);

// "bytes a-b/size" for a 206, "bytes */size" for a 416.
std::string content_range(const RangeRequest& request, std::uint64_t size);

}  // namespace loraplane::distribute
