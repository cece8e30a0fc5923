// JSON for tenants and API keys: the loraplane.tenants events and the admin API bodies.
#include "schema/reader_impl.hpp"
#include "schema/tenant_deleted.hpp"
#include "schema/writer_impl.hpp"

namespace loraplane::schema {
namespace {

using detail::ObjectReader;
using detail::put;

constexpr std::string_view kTiers = "shared, reserved, dedicated";
constexpr detail::StringRule kApiKeyRule{.max = 256};

}  // namespace

// ---- TenantRecord ------------------------------------------------------------------------

template <>
Result<TenantRecord> parse<TenantRecord>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<TenantRecord>(json, limits, [](ObjectReader& r, TenantRecord& t) {
    r.version(t.version);
    r.string("id", t.id, detail::kIdRule);
    r.string("name", t.name, detail::kNameRule);
    r.enumeration("tier", t.tier, parse_tier, kTiers);
    r.integer("created_at", t.created_at);
    r.boolean("deleted", t.deleted);
  });
}

std::string to_json(const TenantRecord& value) {
  boost::json::object out;
  out["version"] = value.version;
  put(out, "id", value.id);
  put(out, "name", value.name);
  put(out, "tier", to_string(value.tier));
  out["created_at"] = value.created_at;
  out["deleted"] = value.deleted;
  return detail::serialize(out);
}

// ---- ApiKeyRecord ------------------------------------------------------------------------

template <>
Result<ApiKeyRecord> parse<ApiKeyRecord>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<ApiKeyRecord>(json, limits, [](ObjectReader& r, ApiKeyRecord& k) {
    r.version(k.version);
    r.string("prefix", k.prefix, detail::kIdRule);
    r.string("tenant_id", k.tenant_id, detail::kIdRule);
    r.string("key_sha256", k.key_sha256, detail::kSha256Rule);
    r.integer("created_at", k.created_at);
    r.boolean("revoked", k.revoked);
  });
}

std::string to_json(const ApiKeyRecord& value) {
  boost::json::object out;
  out["version"] = value.version;
  put(out, "prefix", value.prefix);
  put(out, "tenant_id", value.tenant_id);
  put(out, "key_sha256", value.key_sha256);
  out["created_at"] = value.created_at;
  out["revoked"] = value.revoked;
  return detail::serialize(out);
}

// ---- CreateTenantRequest -----------------------------------------------------------------

template <>
Result<CreateTenantRequest> parse<CreateTenantRequest>(std::string_view json,
                                                       const ParseLimits& limits) {
  return detail::parse_document<CreateTenantRequest>(
      json, limits, [](ObjectReader& r, CreateTenantRequest& t) {
        r.only({"name", "tier"});
        r.string("name", t.name, detail::kNameRule);
        r.optional_enumeration("tier", t.tier, parse_tier, kTiers);
      });
}

std::string to_json(const CreateTenantRequest& value) {
  boost::json::object out;
  put(out, "name", value.name);
  put(out, "tier", to_string(value.tier));
  return detail::serialize(out);
}

// ---- Tenant ------------------------------------------------------------------------------

template <>
Result<Tenant> parse<Tenant>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<Tenant>(json, limits, [](ObjectReader& r, Tenant& t) {
    r.string("id", t.id, detail::kIdRule);
    r.constant("object", "tenant");
    r.string("name", t.name, detail::kNameRule);
    r.enumeration("tier", t.tier, parse_tier, kTiers);
    r.optional_string("api_key", t.api_key, kApiKeyRule);
    r.integer("created_at", t.created_at);
  });
}

std::string to_json(const Tenant& value) {
  boost::json::object out;
  put(out, "id", value.id);
  put(out, "object", "tenant");
  put(out, "name", value.name);
  put(out, "tier", to_string(value.tier));
  detail::put_optional(out, "api_key", value.api_key);
  out["created_at"] = value.created_at;
  return detail::serialize(out);
}

// ---- ApiKeyCreated -----------------------------------------------------------------------

template <>
Result<ApiKeyCreated> parse<ApiKeyCreated>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<ApiKeyCreated>(json, limits, [](ObjectReader& r, ApiKeyCreated& k) {
    r.constant("object", "api_key");
    r.string("tenant_id", k.tenant_id, detail::kIdRule);
    r.string("api_key", k.api_key, kApiKeyRule);
    r.string("prefix", k.prefix, detail::kIdRule);
    r.integer("created_at", k.created_at);
  });
}

std::string to_json(const ApiKeyCreated& value) {
  boost::json::object out;
  put(out, "object", "api_key");
  put(out, "tenant_id", value.tenant_id);
  put(out, "api_key", value.api_key);
  put(out, "prefix", value.prefix);
  out["created_at"] = value.created_at;
  return detail::serialize(out);
}

// ---- ApiKeyRevoked -----------------------------------------------------------------------

template <>
Result<ApiKeyRevoked> parse<ApiKeyRevoked>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<ApiKeyRevoked>(json, limits, [](ObjectReader& r, ApiKeyRevoked& k) {
    r.constant("object", "api_key.revoked");
    r.string("prefix", k.prefix, detail::kIdRule);
    r.require_true("revoked");
  });
}

std::string to_json(const ApiKeyRevoked& value) {
  boost::json::object out;
  put(out, "object", "api_key.revoked");
  put(out, "prefix", value.prefix);
  out["revoked"] = true;
  return detail::serialize(out);
}

// ---- TenantDeleted -----------------------------------------------------------------------

template <>
Result<TenantDeleted> parse<TenantDeleted>(std::string_view json, const ParseLimits& limits) {
  return detail::parse_document<TenantDeleted>(json, limits, [](ObjectReader& r, TenantDeleted& d) {
    r.string("id", d.id, detail::kIdRule);
    r.constant("object", "tenant.deleted");
    r.require_true("deleted");
    r.integer("adapters_deleted", d.adapters_deleted);
  });
}

std::string to_json(const TenantDeleted& value) {
  boost::json::object out;
  put(out, "id", value.id);
  put(out, "object", "tenant.deleted");
  out["deleted"] = true;
  out["adapters_deleted"] = value.adapters_deleted;
  return detail::serialize(out);
}

}  // namespace loraplane::schema
