// The UploadChunkHeader travels as Kafka headers on each loraplane.uploads message: one header
// per field, named as in schema/json/UploadChunkHeader.schema.json, value in text ("1", "17",
// "true"). Parsing applies the same rules and messages as parse<UploadChunkHeader>.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "common/kafka.hpp"
#include "common/result.hpp"
#include "schema/types.hpp"

namespace loraplane::schema {

std::vector<kafka::Header> to_headers(const UploadChunkHeader& header);
// The same, plus the header naming the request the upload came from (common/request_id.hpp;
// none when `request_id` is empty).
std::vector<kafka::Header> to_headers(const UploadChunkHeader& header, std::string_view request_id);

// Where one upload's chunks landed, from their delivery reports: they share the upload id as
// key, so one partition, between the first and the last offset.
struct ChunkSpan {
  std::int32_t partition = -1;
  std::int64_t first_offset = std::numeric_limits<std::int64_t>::max();
  std::int64_t last_offset = -1;
  void add(const kafka::Delivered& delivered) {
    partition = delivered.partition;
    first_offset = std::min(first_offset, delivered.offset);
    last_offset = std::max(last_offset, delivered.offset);
  }
};

// Unknown header names are ignored (other tooling may add its own); a repeated field is an
// error, so is a missing or malformed one.
Result<UploadChunkHeader> parse_headers(const std::vector<kafka::Header>& headers);

}  // namespace loraplane::schema
