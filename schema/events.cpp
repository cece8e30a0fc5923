// JSON for the pipeline events: jobs (loraplane.jobs), upload chunk headers
// (loraplane.uploads), load events (loraplane.load-events) and engine residency
// (loraplane.residency).
#include "schema/reader_impl.hpp"
#include "schema/writer_impl.hpp"

namespace loraplane::schema {
namespace {

using detail::ObjectReader;
using detail::put;

constexpr std::string_view kJobKinds = "upload, import, delete, stored";
constexpr std::string_view kLoadEventKinds = "adapter.ready, adapter.deleted";
constexpr detail::StringRule kSealedRule{.max = 4096};
constexpr detail::StringRule kUrlRule{.max = 2048};

void read_job_upload(ObjectReader& r, JobUpload& u) {
  r.string("upload_id", u.upload_id, detail::kIdRule);
  r.integer("chunk_count", u.chunk_count, 1);
  r.integer("size_bytes", u.size_bytes);
  r.string("sha256", u.sha256, detail::kSha256Rule);
  r.optional_string("config", u.config, detail::kConfigRule);
  r.optional_number("lora_alpha", u.lora_alpha);
  if (u.lora_alpha && !(*u.lora_alpha > 0)) r.fail("lora_alpha", "must be greater than 0");
  if (!r.failed()) detail::read_upload_range(r, u.partition, u.first_offset, u.last_offset);
}

boost::json::object write_job_upload(const JobUpload& u) {
  boost::json::object out;
  put(out, "upload_id", u.upload_id);
  out["chunk_count"] = u.chunk_count;
  out["size_bytes"] = u.size_bytes;
  put(out, "sha256", u.sha256);
  detail::put_optional(out, "config", u.config);
  if (u.lora_alpha) out["lora_alpha"] = detail::number(*u.lora_alpha);
  out["partition"] = u.partition;
  out["first_offset"] = u.first_offset;
  out["last_offset"] = u.last_offset;
  return out;
}

void read_job_import(ObjectReader& r, JobImport& i) {
  r.string("repo", i.repo, detail::kRepoRule);
  r.string("revision", i.revision, detail::kRevisionRule);
  r.optional_string("hf_token_sealed", i.hf_token_sealed, kSealedRule);
}

boost::json::object write_job_import(const JobImport& i) {
  boost::json::object out;
  put(out, "repo", i.repo);
  put(out, "revision", i.revision);
  detail::put_optional(out, "hf_token_sealed", i.hf_token_sealed);
  return out;
}

void read_job_stored(ObjectReader& r, JobStored& s) {
  r.string("node_id", s.node_id, detail::kIdRule);
  r.string("blob_url", s.blob_url, kUrlRule);
}

boost::json::object write_job_stored(const JobStored& s) {
  boost::json::object out;
  put(out, "node_id", s.node_id);
  put(out, "blob_url", s.blob_url);
  return out;
}

// The payload object matching the kind is required; the others are refused.
void read_job_payload(ObjectReader& r, Job& j) {
  const bool is_upload = j.kind == JobKind::upload;
  const bool is_import = j.kind == JobKind::import;
  const bool is_stored = j.kind == JobKind::stored;
  const auto upload = [&j](ObjectReader& inner) { read_job_upload(inner, j.upload.emplace()); };
  const auto import_fn = [&j](ObjectReader& inner) {
    read_job_import(inner, j.hf_import.emplace());
  };
  const auto stored = [&j](ObjectReader& inner) { read_job_stored(inner, j.stored.emplace()); };
  const std::string refused = "not allowed for kind " + std::string(to_string(j.kind));
  if (is_upload) {
    r.object("upload", upload);
  } else if (r.optional_object("upload", upload)) {
    r.fail("upload", refused);
  }
  if (is_import) {
    r.object("import", import_fn);
  } else if (r.optional_object("import", import_fn)) {
    r.fail("import", refused);
  }
  if (is_stored) {
    r.object("stored", stored);
  } else if (r.optional_object("stored", stored)) {
    r.fail("stored", refused);
  }
}

}  // namespace

// ---- Job ---------------------------------------------------------------------------------

template <>
Result<Job> parse<Job>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<Job>(json, limits, [](ObjectReader& r, Job& j) {
    r.version(j.version);
    r.string("job_id", j.job_id, detail::kIdRule);
    r.enumeration("kind", j.kind, parse_job_kind, kJobKinds);
    r.string("tenant_id", j.tenant_id, detail::kIdRule);
    r.string("adapter_id", j.adapter_id, detail::kAdapterIdRule);
    r.string("name", j.name, detail::kNameRule);
    r.string("base_model", j.base_model, detail::kBaseModelRule);
    r.integer("created_at", j.created_at);
    if (!r.failed()) read_job_payload(r, j);
  });
}

std::string to_json(const Job& value) {
  boost::json::object out;
  out["version"] = value.version;
  put(out, "job_id", value.job_id);
  put(out, "kind", to_string(value.kind));
  put(out, "tenant_id", value.tenant_id);
  put(out, "adapter_id", value.adapter_id);
  put(out, "name", value.name);
  put(out, "base_model", value.base_model);
  out["created_at"] = value.created_at;
  if (value.upload) out["upload"] = write_job_upload(*value.upload);
  if (value.hf_import) out["import"] = write_job_import(*value.hf_import);
  if (value.stored) out["stored"] = write_job_stored(*value.stored);
  return detail::serialize(out);
}

// ---- UploadChunkHeader -------------------------------------------------------------------

template <>
Result<UploadChunkHeader> parse<UploadChunkHeader>(std::string_view json,
                                                   const ParseLimits& limits) {
  return detail::parse_document<UploadChunkHeader>(
      json, limits, [](ObjectReader& r, UploadChunkHeader& h) {
        r.version(h.version);
        r.string("upload_id", h.upload_id, detail::kIdRule);
        r.integer("index", h.index);
        r.optional_integer("count", h.count, 1);
        r.boolean("last", h.last);
        if (r.failed()) return;
        if (h.count && h.index >= *h.count) {
          r.fail("index", "must be less than count");
        } else if (h.last && !h.count) {
          r.fail("count", "is required on the last chunk");
        } else if (h.last && h.index + 1 != *h.count) {
          r.fail("last", "must be set on chunk count-1 only");
        }
      });
}

std::string to_json(const UploadChunkHeader& value) {
  boost::json::object out;
  out["version"] = value.version;
  put(out, "upload_id", value.upload_id);
  out["index"] = value.index;
  if (value.count) out["count"] = *value.count;
  out["last"] = value.last;
  return detail::serialize(out);
}

// ---- LoadEvent ---------------------------------------------------------------------------

template <>
Result<LoadEvent> parse<LoadEvent>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<LoadEvent>(json, limits, [](ObjectReader& r, LoadEvent& e) {
    r.version(e.version);
    r.enumeration("event", e.event, parse_load_event_kind, kLoadEventKinds);
    r.string("adapter_id", e.adapter_id, detail::kAdapterIdRule);
    r.string("tenant_id", e.tenant_id, detail::kIdRule);
    r.string("base_model", e.base_model, detail::kBaseModelRule);
    r.string("sha256", e.sha256, detail::kSha256Rule);
    r.integer("size_bytes", e.size_bytes);
    r.integer("rank", e.rank);
    r.string_list("storage_urls", e.storage_urls, kUrlRule);
    r.integer("at", e.at);
    r.optional_string("adapter_config", e.adapter_config, detail::kConfigRule);
  });
}

std::string to_json(const LoadEvent& value) {
  boost::json::object out;
  out["version"] = value.version;
  put(out, "event", to_string(value.event));
  put(out, "adapter_id", value.adapter_id);
  put(out, "tenant_id", value.tenant_id);
  put(out, "base_model", value.base_model);
  put(out, "sha256", value.sha256);
  out["size_bytes"] = value.size_bytes;
  out["rank"] = value.rank;
  out["storage_urls"] = detail::string_array(value.storage_urls);
  out["at"] = value.at;
  detail::put_optional(out, "adapter_config", value.adapter_config);
  return detail::serialize(out);
}

// ---- Residency ---------------------------------------------------------------------------

template <>
Result<Residency> parse<Residency>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<Residency>(json, limits, [](ObjectReader& r, Residency& s) {
    r.version(s.version);
    r.string("engine_id", s.engine_id, detail::kIdRule);
    r.string("base_model", s.base_model, detail::kBaseModelRule);
    r.string("url", s.url, kUrlRule);
    r.string("agent_url", s.agent_url, kUrlRule);
    r.string_list("gpu", s.gpu, detail::kAdapterIdRule);
    r.string_list("cpu", s.cpu, detail::kAdapterIdRule);
    r.string_list("disk", s.disk, detail::kAdapterIdRule);
    r.string_list("loading", s.loading, detail::kAdapterIdRule);
    r.integer("free_slots", s.free_slots);
    r.integer("queue_depth", s.queue_depth);
    r.integer("heartbeat_at_ms", s.heartbeat_at_ms);
  });
}

std::string to_json(const Residency& value) {
  boost::json::object out;
  out["version"] = value.version;
  put(out, "engine_id", value.engine_id);
  put(out, "base_model", value.base_model);
  put(out, "url", value.url);
  put(out, "agent_url", value.agent_url);
  out["gpu"] = detail::string_array(value.gpu);
  out["cpu"] = detail::string_array(value.cpu);
  out["disk"] = detail::string_array(value.disk);
  out["loading"] = detail::string_array(value.loading);
  out["free_slots"] = value.free_slots;
  out["queue_depth"] = value.queue_depth;
  out["heartbeat_at_ms"] = value.heartbeat_at_ms;
  return detail::serialize(out);
}

}  // namespace loraplane::schema
