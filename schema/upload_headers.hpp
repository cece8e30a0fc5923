// The UploadChunkHeader travels as Kafka headers on each loraplane.uploads message: one header
// per field, named as in schema/json/UploadChunkHeader.schema.json, value in text ("1", "17",
// "true"). Parsing applies the same rules and messages as parse<UploadChunkHeader>.
#pragma once

#include <vector>

#include "common/kafka.hpp"
#include "common/result.hpp"
#include "schema/types.hpp"

namespace loraplane::schema {

std::vector<kafka::Header> to_headers(const UploadChunkHeader& header);

// Unknown header names are ignored (other tooling may add its own); a repeated field is an
// error, so is a missing or malformed one.
Result<UploadChunkHeader> parse_headers(const std::vector<kafka::Header>& headers);

}  // namespace loraplane::schema
