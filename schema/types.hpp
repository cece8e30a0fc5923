// Plain C++ types for every Kafka event and HTTP body of loraplane, their enums and the tier
// limits. JSON (de)serialisation lives in schema/json.hpp; the wire shapes are specified by
// schema/json/*.schema.json and schema/openapi.yaml, and tests keep the three in agreement.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loraplane::schema {

// Every Kafka event carries this version; parse() rejects any other value.
inline constexpr int kEventVersion = 1;

// ---- enums -------------------------------------------------------------------------------

enum class Tier { shared, reserved, dedicated };
std::string_view to_string(Tier tier);
std::optional<Tier> parse_tier(std::string_view text);

enum class AdapterStatus { pending, validating, ready, failed, deleting };
std::string_view to_string(AdapterStatus status);
std::optional<AdapterStatus> parse_adapter_status(std::string_view text);

enum class JobKind { upload, import, remove, stored };  // "upload" | "import" | "delete" | "stored"
std::string_view to_string(JobKind kind);
std::optional<JobKind> parse_job_kind(std::string_view text);

enum class LoadEventKind { adapter_ready, adapter_deleted };  // "adapter.ready" | "adapter.deleted"
std::string_view to_string(LoadEventKind kind);
std::optional<LoadEventKind> parse_load_event_kind(std::string_view text);

enum class SourceType { upload, hf };
std::string_view to_string(SourceType type);
std::optional<SourceType> parse_source_type(std::string_view text);

// ---- limits and validators ---------------------------------------------------------------

struct TierLimits {
  int max_adapters;
  std::uint64_t max_adapter_bytes;  // 1 MB = 10^6 bytes, as users read it
  int max_rank;
};
TierLimits limits(Tier tier);

// Adapter and tenant names: 1-64 characters of [A-Za-z0-9._-].
bool valid_name(std::string_view name);
// 64 lowercase hex digits.
bool valid_sha256(std::string_view hex);
// "adp_" followed by 1-64 characters of [A-Za-z0-9_-].
bool valid_adapter_id(std::string_view id);
// Base model ids: 1-128 characters of [A-Za-z0-9._/-] (never ':', on which inference splits
// "<base>:<adapter>").
bool valid_base_model(std::string_view base_model);
// Hugging Face repo id: "name" or "owner/name", each part [A-Za-z0-9][A-Za-z0-9._-]*, ≤ 96 total.
bool valid_repo(std::string_view repo);
// Git revision (branch, tag or commit): 1-255 visible ASCII characters (no spaces).
bool valid_revision(std::string_view revision);

// ---- Kafka events ------------------------------------------------------------------------

// loraplane.tenants, key = tenant id.
struct TenantRecord {
  int version = 1;
  std::string id;
  std::string name;
  Tier tier = Tier::shared;
  std::int64_t created_at = 0;  // unix seconds
  bool deleted = false;
};

// loraplane.tenants, key = "key/" + prefix. Only the hash of the key is ever stored.
struct ApiKeyRecord {
  int version = 1;
  std::string prefix;
  std::string tenant_id;
  std::string key_sha256;  // 64 lowercase hex
  std::int64_t created_at = 0;
  bool revoked = false;
};

struct JobUpload {
  std::string upload_id;
  std::uint32_t chunk_count = 0;
  std::uint64_t size_bytes = 0;
  std::string sha256;
  std::optional<std::string> config;  // adapter_config.json text, when the client sent one
  std::optional<double> lora_alpha;   // form field for bare uploads
  // Where the chunks sit in loraplane.uploads (key = upload id, so one partition, in order);
  // other uploads' chunks may lie between them. first_offset <= last_offset.
  std::int32_t partition = 0;
  std::int64_t first_offset = 0;
  std::int64_t last_offset = 0;
};

struct JobImport {
  std::string repo;
  std::string revision = "main";
  std::optional<std::string> hf_token_sealed;  // encrypted; never the clear token
};

// A distribute worker's report that its storage node now holds the adapter's bytes.
struct JobStored {
  std::string node_id;
  std::string blob_url;  // where agents fetch the blob from this node
};

// loraplane.jobs, key = tenant id. kind upload carries `upload`, kind import carries
// `hf_import` (JSON key "import"), kind stored carries `stored`, kind delete carries none.
struct Job {
  int version = 1;
  std::string job_id;
  JobKind kind = JobKind::upload;
  std::string tenant_id;
  std::string adapter_id;
  std::string name;
  std::string base_model;
  std::int64_t created_at = 0;
  std::optional<JobUpload> upload;
  std::optional<JobImport> hf_import;
  std::optional<JobStored> stored;
};

// Kafka headers of a loraplane.uploads message (key = upload id, value = ≤ 1 MiB of bytes).
// Header names are the field names, values their decimal / "true" / "false" text
// (schema/upload_headers.hpp); the JSON form exists to document and test the shape.
struct UploadChunkHeader {
  int version = 1;
  std::string upload_id;
  std::uint32_t index = 0;
  std::optional<std::uint32_t> count;  // total chunks, when known (always on the last chunk)
  bool last = false;
};

struct AdapterSource {
  SourceType type = SourceType::upload;
  std::optional<std::string> repo;
  std::optional<std::string> revision;
  std::optional<std::string> commit_sha;  // resolved by the validate worker for imports
};

struct AdapterError {
  std::string code;
  std::string message;
};

// The public adapter object (HTTP). size_bytes/sha256/rank/target_modules are 0/empty until
// known (an import is only measured once downloaded).
struct Adapter {
  std::string id;
  std::string name;
  std::string base_model;
  AdapterStatus status = AdapterStatus::pending;
  AdapterSource source;
  std::uint64_t size_bytes = 0;
  std::string sha256;
  int rank = 0;
  std::vector<std::string> target_modules;
  std::int64_t created_at = 0;
  std::optional<AdapterError> error;
};

// Where a validated upload's bytes are in loraplane.uploads (as in JobUpload).
struct UploadLocation {
  std::string upload_id;
  std::int32_t partition = 0;
  std::int64_t first_offset = 0;
  std::int64_t last_offset = 0;
  std::uint32_t chunk_count = 0;
};

// loraplane.adapters (compacted), key = adapter id: the adapter object's fields (flattened,
// without "object") plus the owner and the time of the last change.
struct AdapterState {
  int version = 1;
  Adapter adapter;
  std::string tenant_id;
  std::int64_t updated_at = 0;  // unix seconds
  // adapter_config.json to serve the weights with, once validated: the uploaded or imported
  // one, or the one the validate worker generated for a bare upload. At most 64 KiB.
  std::optional<std::string> adapter_config;
  // Per-adapter record sequence, only grows: a reader keeps the record with the highest seq.
  // 0 in records written before it existed.
  std::uint64_t seq = 0;
  bool validated = false;                 // fully validated; bytes not necessarily stored yet
  std::vector<std::string> storage_urls;  // blob endpoints that hold the adapter
  // Uploads: where the chunks are, from the `validating` record on (storage nodes start
  // copying them then, while the validate worker checks them).
  std::optional<UploadLocation> upload_location;
};

// loraplane.load-events (broadcast), key = adapter id.
struct LoadEvent {
  int version = 1;
  LoadEventKind event = LoadEventKind::adapter_ready;
  std::string adapter_id;
  std::string tenant_id;
  std::string base_model;
  std::string sha256;
  std::uint64_t size_bytes = 0;
  int rank = 0;
  std::vector<std::string> storage_urls;      // blob endpoints that serve sha256
  std::int64_t at = 0;                        // unix seconds
  std::optional<std::string> adapter_config;  // as in AdapterState; set on adapter.ready
};

// loraplane.residency (compacted), key = engine id. Lists hold adapter ids.
struct Residency {
  int version = 1;
  std::string engine_id;
  std::string base_model;
  std::string url;        // engine's OpenAI server
  std::string agent_url;  // agent's ensure endpoint
  std::vector<std::string> gpu;
  std::vector<std::string> cpu;
  std::vector<std::string> disk;
  std::vector<std::string> loading;
  int free_slots = 0;
  int queue_depth = 0;
  std::int64_t heartbeat_at_ms = 0;  // unix milliseconds
};

// ---- HTTP bodies -------------------------------------------------------------------------

// POST /admin/v1/tenants
struct CreateTenantRequest {
  std::string name;
  Tier tier = Tier::shared;
};

// 201 of POST /admin/v1/tenants ("object": "tenant"); api_key only on creation.
struct Tenant {
  std::string id;
  std::string name;
  Tier tier = Tier::shared;
  std::int64_t created_at = 0;
  std::optional<std::string> api_key;
};

// 201 of POST /admin/v1/tenants/{id}/keys ("object": "api_key").
struct ApiKeyCreated {
  std::string tenant_id, api_key, prefix;
  std::int64_t created_at = 0;
};

// 200 of DELETE /admin/v1/keys/{prefix}: {"object":"api_key.revoked","prefix","revoked":true}.
struct ApiKeyRevoked {
  std::string prefix;
};

// POST /v1/adapters (import from Hugging Face).
struct CreateAdapterRequest {
  std::string name;
  std::string base_model;
  std::string repo;
  std::string revision = "main";
  std::optional<std::string> hf_token;
};

// GET /v1/adapters: {"object":"list","data":[...],"has_more"}.
struct AdapterList {
  std::vector<Adapter> data;
  bool has_more = false;
};

// DELETE /v1/adapters/{id}: {"id","object":"adapter.deleted","deleted":true}.
struct AdapterDeleted {
  std::string id;
};

// OpenAI error body {"error":{"message","type","param","code"}}; param/code serialise as null
// when absent.
struct ErrorBody {
  std::string message, type;
  std::optional<std::string> param, code;
};

// One entry of GET /v1/models ("object": "model"); parent is null for base models.
struct Model {
  std::string id;
  std::int64_t created = 0;
  std::string owned_by;
  std::optional<std::string> parent;
};

struct ModelList {
  std::vector<Model> data;
};

// One engine as the router sees it (GET /admin/v1/engines). Lists hold adapter names.
struct EngineView {
  std::string id;
  std::string base_model;
  std::string url;
  bool healthy = false;
  std::vector<std::string> gpu;
  std::vector<std::string> cpu;
  std::vector<std::string> disk;
  std::vector<std::string> loading;
  int free_slots = 0;
  int queue_depth = 0;
  std::int64_t heartbeat_age_ms = 0;
};

struct EngineList {
  std::vector<EngineView> data;
};

// GET /healthz: {"status", "roles": {"<role>": "ready" | "starting"}}.
struct Health {
  std::string status;
  std::vector<std::pair<std::string, std::string>> roles;
};

}  // namespace loraplane::schema
