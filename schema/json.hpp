// JSON for the schema types: one bounded, strict parser per type (simdjson underneath) and
// one serialiser (Boost.JSON underneath). Parse errors are Errc::invalid_argument with a
// message naming the field at fault, e.g. "upload.sha256: must be 64 lowercase hex digits".
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "schema/types.hpp"

namespace loraplane::schema {

inline constexpr std::size_t kMaxDocumentBytes = 1024 * 1024;
inline constexpr std::size_t kMaxDepth = 32;  // nesting of objects and arrays; {} is depth 1

struct ParseLimits {
  std::size_t max_bytes = kMaxDocumentBytes;
  std::size_t max_depth = kMaxDepth;
};

// Parses one document into T. Unknown fields are ignored, except in request bodies
// (CreateTenantRequest, CreateAdapterRequest) where they are rejected; duplicate keys are
// always rejected. Only the explicit specialisations below exist.
template <class T>
Result<T> parse(std::string_view json, const ParseLimits& limits = {});

// Kafka events
template <>
Result<TenantRecord> parse<TenantRecord>(std::string_view, const ParseLimits&);
template <>
Result<ApiKeyRecord> parse<ApiKeyRecord>(std::string_view, const ParseLimits&);
template <>
Result<Job> parse<Job>(std::string_view, const ParseLimits&);
template <>
Result<UploadChunkHeader> parse<UploadChunkHeader>(std::string_view, const ParseLimits&);
template <>
Result<AdapterState> parse<AdapterState>(std::string_view, const ParseLimits&);
template <>
Result<LoadEvent> parse<LoadEvent>(std::string_view, const ParseLimits&);
template <>
Result<Residency> parse<Residency>(std::string_view, const ParseLimits&);

// HTTP bodies
template <>
Result<CreateTenantRequest> parse<CreateTenantRequest>(std::string_view, const ParseLimits&);
template <>
Result<Tenant> parse<Tenant>(std::string_view, const ParseLimits&);
template <>
Result<ApiKeyCreated> parse<ApiKeyCreated>(std::string_view, const ParseLimits&);
template <>
Result<ApiKeyRevoked> parse<ApiKeyRevoked>(std::string_view, const ParseLimits&);
template <>
Result<CreateAdapterRequest> parse<CreateAdapterRequest>(std::string_view, const ParseLimits&);
template <>
Result<Adapter> parse<Adapter>(std::string_view, const ParseLimits&);
template <>
Result<AdapterList> parse<AdapterList>(std::string_view, const ParseLimits&);
template <>
Result<AdapterDeleted> parse<AdapterDeleted>(std::string_view, const ParseLimits&);
template <>
Result<ErrorBody> parse<ErrorBody>(std::string_view, const ParseLimits&);
template <>
Result<ModelList> parse<ModelList>(std::string_view, const ParseLimits&);
template <>
Result<EngineList> parse<EngineList>(std::string_view, const ParseLimits&);
template <>
Result<Health> parse<Health>(std::string_view, const ParseLimits&);

// The field a parse error names ("upload.sha256", "data[1].status"), for the OpenAI error's
// `param`; nullopt for errors about the whole document or not from parse().
std::optional<std::string> error_field(const Error& error);

// Compact JSON, fields in schema order; absent optionals are omitted, except the nullable
// ErrorBody.param/code and Model.parent which are written as null.
std::string to_json(const TenantRecord& value);
std::string to_json(const ApiKeyRecord& value);
std::string to_json(const Job& value);
std::string to_json(const UploadChunkHeader& value);
std::string to_json(const AdapterState& value);
std::string to_json(const LoadEvent& value);
std::string to_json(const Residency& value);

std::string to_json(const CreateTenantRequest& value);
std::string to_json(const Tenant& value);
std::string to_json(const ApiKeyCreated& value);
std::string to_json(const ApiKeyRevoked& value);
std::string to_json(const CreateAdapterRequest& value);
std::string to_json(const Adapter& value);
std::string to_json(const AdapterList& value);
std::string to_json(const AdapterDeleted& value);
std::string to_json(const ErrorBody& value);
std::string to_json(const ModelList& value);
std::string to_json(const EngineList& value);
std::string to_json(const Health& value);

}  // namespace loraplane::schema
