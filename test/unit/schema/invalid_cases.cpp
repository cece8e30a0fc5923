// Invalid documents, made by changing one field of a sample, with the error the C++ parser
// must give. The schema_samples tool also writes the kSchemaCases documents so the JSON Schema
// test can check that the schemas refuse them too.
#include "invalid_cases.hpp"

#include <boost/json.hpp>
#include <stdexcept>

namespace loraplane::schema::testing {

// Sets (raw JSON) or erases (nullopt) the field at a dotted path; numeric parts index arrays.
std::string mutate(std::string_view json, std::string_view path,
                   std::optional<std::string_view> raw) {
  boost::json::value doc = boost::json::parse(json);
  boost::json::value* at = &doc;
  std::string_view rest = path;
  while (true) {
    const auto dot = rest.find('.');
    const auto part = rest.substr(0, dot);
    const bool last = dot == std::string_view::npos;
    if (at->is_array()) {
      at = &at->as_array().at(std::stoul(std::string(part)));
      if (last) throw std::runtime_error("path must end in a key");
    } else if (last) {
      auto& obj = at->as_object();
      if (raw) {
        obj[part] = boost::json::parse(*raw);
      } else {
        obj.erase(part);
      }
      break;
    } else {
      at = &at->as_object().at(part);
    }
    rest = rest.substr(dot + 1);
  }
  return boost::json::serialize(doc);
}

std::string sample_json(std::string_view schema, std::string_view variant) {
  for (const auto& s : all_samples()) {
    if (s.schema == schema && s.variant == variant) return s.json;
  }
  throw std::runtime_error("no sample " + std::string(schema) + " " + std::string(variant));
}

std::string Case::document() const { return mutate(sample_json(schema, variant), path, raw); }

const std::vector<Case> kSchemaCases = {
    // missing required fields, top level and nested
    {"TenantRecord", "", "id", std::nullopt, "id: is required"},
    {"ApiKeyRecord", "", "revoked", std::nullopt, "revoked: is required"},
    {"Job", "", "upload.sha256", std::nullopt, "upload.sha256: is required"},
    {"Job", "", "upload", std::nullopt, "upload: is required"},
    {"Job", "import", "import", std::nullopt, "import: is required"},
    {"Job", "stored", "stored", std::nullopt, "stored: is required"},
    {"Job", "stored", "stored.blob_url", std::nullopt, "stored.blob_url: is required"},
    {"Job", "", "upload.partition", std::nullopt, "upload.partition: is required"},
    {"Job", "", "upload.first_offset", std::nullopt, "upload.first_offset: is required"},
    {"Job", "", "upload.last_offset", std::nullopt, "upload.last_offset: is required"},
    {"AdapterState", "validated", "upload_location.chunk_count", std::nullopt,
     "upload_location.chunk_count: is required"},
    {"Error", "", "error.param", std::nullopt, "error.param: is required"},
    {"Residency", "", "heartbeat_at_ms", std::nullopt, "heartbeat_at_ms: is required"},
    {"Adapter", "", "source.type", std::nullopt, "source.type: is required"},
    {"Adapter", "ready", "source.repo", std::nullopt, "source.repo: is required"},
    {"AdapterList", "", "data.1.status", std::nullopt, "data[1].status: is required"},
    {"LoadEvent", "", "version", std::nullopt, "version: is required"},
    {"LoadEvent", "", "adapter_config", R"("")", "adapter_config: must not be empty"},
    {"AdapterState", "ready", "adapter_config", "{}", "adapter_config: must be a string"},
    {"AdapterState", "ready", "validated", "1", "validated: must be true or false"},
    {"AdapterState", "ready", "storage_urls", R"(["http://a",""])",
     "storage_urls[1]: must not be empty"},
    {"AdapterState", "ready", "seq", "-1", "seq: must be between 0 and 9223372036854775807"},
    {"AdapterState", "ready", "upload_location", "[]", "upload_location: must be an object"},
    // wrong types
    {"TenantRecord", "", "created_at", R"("yesterday")", "created_at: must be an integer"},
    {"TenantRecord", "", "created_at", "1.5", "created_at: must be an integer"},
    {"TenantRecord", "", "deleted", "0", "deleted: must be true or false"},
    {"Tenant", "", "name", "42", "name: must be a string"},
    {"Adapter", "", "target_modules", R"("q_proj")", "target_modules: must be an array of strings"},
    {"Adapter", "", "target_modules", R"(["q_proj",7])", "target_modules[1]: must be a string"},
    {"Adapter", "", "source", "[]", "source: must be an object"},
    {"AdapterList", "", "data", "{}", "data: must be an array"},
    {"Job", "", "upload.lora_alpha", R"("32")", "upload.lora_alpha: must be a number"},
    {"Error", "", "error.code", "5", "error.code: must be a string or null"},
    {"Tenant", "", "api_key", "null", "api_key: must be a string"},
    // bad enums and constants
    {"CreateTenantRequest", "", "tier", R"("gold")",
     "tier: must be one of shared, reserved, dedicated"},
    {"Adapter", "", "status", R"("done")",
     "status: must be one of pending, validating, ready, failed, deleting"},
    {"Job", "", "kind", R"("copy")", "kind: must be one of upload, import, delete, stored"},
    {"LoadEvent", "", "event", R"("ready")",
     "event: must be one of adapter.ready, adapter.deleted"},
    {"Adapter", "", "source.type", R"("s3")", "source.type: must be one of upload, hf"},
    {"Health", "", "roles.gateway", R"("up")", "roles.gateway: must be one of ready, starting"},
    {"Adapter", "", "object", R"("model")", "object: must be \"adapter\""},
    {"AdapterDeleted", "", "deleted", "false", "deleted: must be true"},
    {"ApiKeyRevoked", "", "revoked", "false", "revoked: must be true"},
    {"TenantDeleted", "", "deleted", "false", "deleted: must be true"},
    {"TenantDeleted", "", "adapters_deleted", "-1",
     "adapters_deleted: must be between 0 and 9223372036854775807"},
    // field rules
    {"CreateTenantRequest", "", "name", R"("a b")",
     "name: must be 1-64 characters of [A-Za-z0-9._-]"},
    {"CreateTenantRequest", "", "name", R"("")", "name: must be 1-64 characters of [A-Za-z0-9._-]"},
    {"CreateAdapterRequest", "", "name",
     R"("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")",
     "name: must be 1-64 characters of [A-Za-z0-9._-]"},
    {"CreateAdapterRequest", "", "base_model", R"("llama:8b")",
     "base_model: must be 1-128 characters of [A-Za-z0-9._/-]"},
    {"CreateAdapterRequest", "", "repo", R"("a/b/c")",
     "repo: must be a Hugging Face repo id, \"name\" or \"owner/name\" (at most 96 characters)"},
    {"CreateAdapterRequest", "", "revision", R"("has space")",
     "revision: must be 1-255 visible ASCII characters"},
    {"CreateAdapterRequest", "", "hf_token", R"("")",
     "hf_token: must be 1-1024 visible ASCII characters"},
    {"CreateAdapterRequest", "", "hf_token", R"("hf_abc\r\nX-Injected: yes")",
     "hf_token: must be 1-1024 visible ASCII characters"},
    {"ApiKeyRecord", "", "key_sha256", R"("ABC")", "key_sha256: must be 64 lowercase hex digits"},
    {"Job", "", "upload.sha256", R"("xyz")", "upload.sha256: must be 64 lowercase hex digits"},
    {"Job", "", "upload.chunk_count", "0", "upload.chunk_count: must be between 1 and 4294967295"},
    {"Job", "", "upload.lora_alpha", "0", "upload.lora_alpha: must be greater than 0"},
    {"Job", "delete", "upload",
     R"({"upload_id":"u","chunk_count":1,"size_bytes":1,"partition":0,"first_offset":0,)"
     R"("last_offset":0,"sha256":")"
     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}",
     "upload: not allowed for kind delete"},
    {"Job", "", "stored", R"({"node_id":"n","blob_url":"http://n/b"})",
     "stored: not allowed for kind upload"},
    {"Job", "stored", "stored.node_id", R"("")", "stored.node_id: must not be empty"},
    {"Job", "", "upload.partition", "-1", "upload.partition: must be between 0 and 2147483647"},
    {"Job", "", "upload.first_offset", "-1",
     "upload.first_offset: must be between 0 and 9223372036854775807"},
    {"Job", "", "upload.last_offset", "-5",
     "upload.last_offset: must be between 0 and 9223372036854775807"},
    {"AdapterState", "validated", "upload_location.first_offset", "-1",
     "upload_location.first_offset: must be between 0 and 9223372036854775807"},
    {"AdapterState", "validated", "upload_location.chunk_count", "0",
     "upload_location.chunk_count: must be between 1 and 4294967295"},
    {"Adapter", "", "id", R"("a_1")",
     "id: must be \"adp_\" followed by 1-64 characters of [A-Za-z0-9_-]"},
    {"Adapter", "", "rank", "-1", "rank: must be between 0 and 2147483647"},
    {"Adapter", "", "size_bytes", "18446744073709551615",
     "size_bytes: must be between 0 and 9223372036854775807"},
    {"Adapter", "ready", "source.commit_sha", R"("abc")",
     "source.commit_sha: must be 40 lowercase hex digits"},
    {"Residency", "", "gpu", R"(["adp_1","llama:adp_2"])",
     "gpu[1]: must be \"adp_\" followed by 1-64 characters of [A-Za-z0-9_-]"},
    {"UploadChunkHeader", "", "count", std::nullopt, "count: is required on the last chunk"},
    // versions and unknown fields
    {"TenantRecord", "", "version", "2", "version: unsupported version 2 (this build reads 1)"},
    {"LoadEvent", "", "version", R"("1")", "version: must be an integer"},
    {"CreateTenantRequest", "", "owner", R"("x")", "owner: unknown field"},
    {"CreateAdapterRequest", "", "file", R"("x")", "file: unknown field"},
};

// Rules a JSON Schema cannot state (relations between values): C++ only.
const std::vector<Case> kCppOnlyCases = {
    {"UploadChunkHeader", "", "index", "161", "index: must be less than count"},
    {"UploadChunkHeader", "", "index", "3", "last: must be set on chunk count-1 only"},
    {"Job", "", "upload.last_offset", "1203999",
     "upload.last_offset: must not be less than first_offset"},
    {"AdapterState", "validated", "upload_location.first_offset", "1204392",
     "upload_location.last_offset: must not be less than first_offset"},
};

}  // namespace loraplane::schema::testing
