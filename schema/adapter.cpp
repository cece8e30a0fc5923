// JSON for adapters: the public adapter object and its list/delete/import bodies, and the
// compacted loraplane.adapters state, which is the adapter object's fields plus ownership.
#include <algorithm>

#include "schema/reader_impl.hpp"
#include "schema/writer_impl.hpp"

namespace loraplane::schema {
namespace {

using detail::ObjectReader;
using detail::put;

constexpr std::string_view kStatuses = "pending, validating, ready, failed, deleting";
constexpr std::string_view kSourceTypes = "upload, hf";
constexpr detail::StringRule kShortRule{.max = 256};
constexpr detail::StringRule kMessageRule{.max = 65536};
// A token goes into an Authorization header: a CR or LF would add headers of the caller's
// choosing to the requests the validate worker sends the Hub.
bool valid_token(std::string_view token) {
  return !token.empty() && token.size() <= 1024 &&
         std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c < 0x7f; });
}
constexpr detail::StringRule kTokenRule{.check = valid_token,
                                        .message = "must be 1-1024 visible ASCII characters"};
constexpr detail::StringRule kUrlRule{.max = 2048};

bool valid_commit_sha(std::string_view sha) {
  return sha.size() == 40 && std::all_of(sha.begin(), sha.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

constexpr detail::StringRule kCommitShaRule{.check = valid_commit_sha,
                                            .message = "must be 40 lowercase hex digits"};

void read_source(ObjectReader& r, AdapterSource& s) {
  r.enumeration("type", s.type, parse_source_type, kSourceTypes);
  if (s.type == SourceType::hf) {  // an import always knows what it imports
    std::string repo, revision;
    r.string("repo", repo, detail::kRepoRule);
    r.string("revision", revision, detail::kRevisionRule);
    s.repo = std::move(repo);
    s.revision = std::move(revision);
  } else {
    r.optional_string("repo", s.repo, detail::kRepoRule);
    r.optional_string("revision", s.revision, detail::kRevisionRule);
  }
  r.optional_string("commit_sha", s.commit_sha, kCommitShaRule);
}

boost::json::object write_source(const AdapterSource& s) {
  boost::json::object out;
  put(out, "type", to_string(s.type));
  detail::put_optional(out, "repo", s.repo);
  detail::put_optional(out, "revision", s.revision);
  detail::put_optional(out, "commit_sha", s.commit_sha);
  return out;
}

// The adapter object's fields; `object` is "adapter" on the HTTP object, absent in the event.
void read_adapter(ObjectReader& r, Adapter& a, bool has_object) {
  r.string("id", a.id, detail::kAdapterIdRule);
  if (has_object) r.constant("object", "adapter");
  r.string("name", a.name, detail::kNameRule);
  r.string("base_model", a.base_model, detail::kBaseModelRule);
  r.enumeration("status", a.status, parse_adapter_status, kStatuses);
  r.object("source", [&a](ObjectReader& inner) { read_source(inner, a.source); });
  r.integer("size_bytes", a.size_bytes);
  r.string("sha256", a.sha256, detail::kSha256OrEmptyRule);
  r.integer("rank", a.rank);
  r.string_list("target_modules", a.target_modules, kShortRule);
  r.integer("created_at", a.created_at);
  r.optional_object("error", [&a](ObjectReader& inner) {
    AdapterError& e = a.error.emplace();
    inner.string("code", e.code, kShortRule);
    inner.string("message", e.message, kMessageRule);
  });
}

void write_adapter(boost::json::object& out, const Adapter& a, bool has_object) {
  put(out, "id", a.id);
  if (has_object) put(out, "object", "adapter");
  put(out, "name", a.name);
  put(out, "base_model", a.base_model);
  put(out, "status", to_string(a.status));
  out["source"] = write_source(a.source);
  out["size_bytes"] = a.size_bytes;
  put(out, "sha256", a.sha256);
  out["rank"] = a.rank;
  out["target_modules"] = detail::string_array(a.target_modules);
  out["created_at"] = a.created_at;
  if (a.error) {
    boost::json::object error;
    put(error, "code", a.error->code);
    put(error, "message", a.error->message);
    out["error"] = std::move(error);
  }
}

void read_upload_location(ObjectReader& r, UploadLocation& l) {
  r.string("upload_id", l.upload_id, detail::kIdRule);
  detail::read_upload_range(r, l.partition, l.first_offset, l.last_offset);
  r.integer("chunk_count", l.chunk_count, 1);
}

boost::json::object write_upload_location(const UploadLocation& l) {
  boost::json::object out;
  put(out, "upload_id", l.upload_id);
  out["partition"] = l.partition;
  out["first_offset"] = l.first_offset;
  out["last_offset"] = l.last_offset;
  out["chunk_count"] = l.chunk_count;
  return out;
}

}  // namespace

// ---- CreateAdapterRequest ----------------------------------------------------------------

template <>
Result<CreateAdapterRequest> parse<CreateAdapterRequest>(std::string_view json,
                                                         const ParseLimits& limits) {
  return detail::parse_document<CreateAdapterRequest>(
      json, limits, [](ObjectReader& r, CreateAdapterRequest& c) {
        r.only({"name", "base_model", "repo", "revision", "hf_token"});
        r.string("name", c.name, detail::kNameRule);
        r.string("base_model", c.base_model, detail::kBaseModelRule);
        r.string("repo", c.repo, detail::kRepoRule);
        r.optional_string("revision", c.revision, detail::kRevisionRule);
        r.optional_string("hf_token", c.hf_token, kTokenRule);
      });
}

std::string to_json(const CreateAdapterRequest& value) {
  boost::json::object out;
  put(out, "name", value.name);
  put(out, "base_model", value.base_model);
  put(out, "repo", value.repo);
  put(out, "revision", value.revision);
  detail::put_optional(out, "hf_token", value.hf_token);
  return detail::serialize(out);
}

// ---- Adapter -----------------------------------------------------------------------------

template <>
Result<Adapter> parse<Adapter>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<Adapter>(
      json, limits, [](ObjectReader& r, Adapter& a) { read_adapter(r, a, true); });
}

std::string to_json(const Adapter& value) {
  boost::json::object out;
  write_adapter(out, value, true);
  return detail::serialize(out);
}

// ---- AdapterList -------------------------------------------------------------------------

template <>
Result<AdapterList> parse<AdapterList>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<AdapterList>(json, limits, [](ObjectReader& r, AdapterList& l) {
    r.constant("object", "list");
    r.object_list("data", [&l](ObjectReader& item, std::size_t) {
      read_adapter(item, l.data.emplace_back(), true);
    });
    r.boolean("has_more", l.has_more);
  });
}

std::string to_json(const AdapterList& value) {
  boost::json::array data;
  data.reserve(value.data.size());
  for (const auto& adapter : value.data) {
    boost::json::object item;
    write_adapter(item, adapter, true);
    data.emplace_back(std::move(item));
  }
  boost::json::object out;
  put(out, "object", "list");
  out["data"] = std::move(data);
  out["has_more"] = value.has_more;
  return detail::serialize(out);
}

// ---- AdapterDeleted ----------------------------------------------------------------------

template <>
Result<AdapterDeleted> parse<AdapterDeleted>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<AdapterDeleted>(json, limits,
                                                [](ObjectReader& r, AdapterDeleted& d) {
                                                  r.string("id", d.id, detail::kAdapterIdRule);
                                                  r.constant("object", "adapter.deleted");
                                                  r.require_true("deleted");
                                                });
}

std::string to_json(const AdapterDeleted& value) {
  boost::json::object out;
  put(out, "id", value.id);
  put(out, "object", "adapter.deleted");
  out["deleted"] = true;
  return detail::serialize(out);
}

// ---- AdapterState ------------------------------------------------------------------------

template <>
Result<AdapterState> parse<AdapterState>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<AdapterState>(json, limits, [](ObjectReader& r, AdapterState& s) {
    r.version(s.version);
    read_adapter(r, s.adapter, false);
    r.string("tenant_id", s.tenant_id, detail::kIdRule);
    r.integer("updated_at", s.updated_at);
    r.optional_string("adapter_config", s.adapter_config, detail::kConfigRule);
    // Absent in records written before these fields existed: seq 0, not validated, no urls.
    std::optional<std::uint64_t> seq;
    r.optional_integer("seq", seq);
    if (seq) s.seq = *seq;
    r.optional_boolean("validated", s.validated);
    r.optional_string_list("storage_urls", s.storage_urls, kUrlRule);
    r.optional_object("upload_location", [&s](ObjectReader& inner) {
      read_upload_location(inner, s.upload_location.emplace());
    });
  });
}

std::string to_json(const AdapterState& value) {
  boost::json::object out;
  out["version"] = value.version;
  write_adapter(out, value.adapter, false);
  put(out, "tenant_id", value.tenant_id);
  out["updated_at"] = value.updated_at;
  detail::put_optional(out, "adapter_config", value.adapter_config);
  out["seq"] = value.seq;
  out["validated"] = value.validated;
  out["storage_urls"] = detail::string_array(value.storage_urls);
  if (value.upload_location) out["upload_location"] = write_upload_location(*value.upload_location);
  return detail::serialize(out);
}

}  // namespace loraplane::schema
