#include "gateway/tenant_directory.hpp"

#include <spdlog/spdlog.h>

#include <mutex>

#include "common/sha256.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway {

namespace {
constexpr std::string_view kTenantPrefix = "tenant/";
constexpr std::string_view kKeyPrefix = "key/";

// What a record is filed under: the part of its topic key after the prefix.
const std::string& id_of(const schema::TenantRecord& tenant) { return tenant.id; }
const std::string& id_of(const schema::ApiKeyRecord& key) { return key.prefix; }
}  // namespace

std::string tenant_topic_key(std::string_view tenant_id) {
  return std::string(kTenantPrefix) + std::string(tenant_id);
}

std::string api_key_topic_key(std::string_view prefix) {
  return std::string(kKeyPrefix) + std::string(prefix);
}

NewApiKey generate_api_key(std::string tenant_id, std::int64_t now) {
  NewApiKey out;
  out.key = std::string(kApiKeyPrefix) + random_base62(kApiKeyRandomChars);
  out.record.prefix = out.key.substr(0, kApiKeyLookupChars);
  out.record.tenant_id = std::move(tenant_id);
  out.record.key_sha256 = sha256_hex(out.key);
  out.record.created_at = now;
  return out;
}

bool TenantDirectory::advance(const std::string& topic_key, std::int64_t offset) {
  auto [it, inserted] = offsets_.try_emplace(topic_key, offset);
  if (inserted) return true;
  if (offset < it->second) return false;
  it->second = offset;
  return true;
}

template <class Record, class Map>
void TenantDirectory::apply_record(Map& map, std::string_view topic_key, std::string_view id,
                                   std::optional<std::string_view> value, std::int64_t offset) {
  if (!value) {
    std::unique_lock lock(mutex_);
    if (advance(std::string(topic_key), offset)) map.erase(std::string(id));
    return;
  }
  auto parsed = schema::parse<Record>(*value);
  if (!parsed) {
    spdlog::warn("tenants: skipping malformed record {}: {}", topic_key, parsed.error().message);
    return;
  }
  // Filed under its topic key, never under an id of its own: a record must not reach another
  // tenant's or key's entry (loraplane never writes one that disagrees).
  if (id_of(parsed.value()) != id) {
    spdlog::warn("tenants: skipping record whose id differs from its key {}", topic_key);
    return;
  }
  std::unique_lock lock(mutex_);
  if (advance(std::string(topic_key), offset)) map[std::string(id)] = std::move(parsed).value();
}

void TenantDirectory::apply(std::string_view topic_key, std::optional<std::string_view> value,
                            std::int64_t offset) {
  if (topic_key.starts_with(kTenantPrefix)) {
    apply_record<schema::TenantRecord>(tenants_, topic_key,
                                       topic_key.substr(kTenantPrefix.size()), value, offset);
  } else if (topic_key.starts_with(kKeyPrefix)) {
    apply_record<schema::ApiKeyRecord>(keys_, topic_key, topic_key.substr(kKeyPrefix.size()),
                                       value, offset);
  } else {
    spdlog::warn("tenants: skipping record with unknown key kind");
  }
}

void TenantDirectory::put(const schema::TenantRecord& tenant, std::int64_t offset) {
  std::unique_lock lock(mutex_);
  if (advance(tenant_topic_key(tenant.id), offset)) tenants_[tenant.id] = tenant;
}

void TenantDirectory::put(const schema::ApiKeyRecord& key, std::int64_t offset) {
  std::unique_lock lock(mutex_);
  if (advance(api_key_topic_key(key.prefix), offset)) keys_[key.prefix] = key;
}

std::optional<schema::TenantRecord> TenantDirectory::tenant(std::string_view id) const {
  std::shared_lock lock(mutex_);
  auto it = tenants_.find(std::string(id));
  if (it == tenants_.end() || it->second.deleted) return std::nullopt;
  return it->second;
}

std::optional<schema::TenantRecord> TenantDirectory::record(std::string_view id) const {
  std::shared_lock lock(mutex_);
  auto it = tenants_.find(std::string(id));
  if (it == tenants_.end()) return std::nullopt;
  return it->second;
}

std::optional<schema::TenantRecord> TenantDirectory::tenant_by_name(std::string_view name) const {
  std::shared_lock lock(mutex_);
  for (const auto& [id, t] : tenants_)
    if (!t.deleted && t.name == name) return t;
  return std::nullopt;
}

std::optional<schema::ApiKeyRecord> TenantDirectory::api_key(std::string_view prefix) const {
  std::shared_lock lock(mutex_);
  auto it = keys_.find(std::string(prefix));
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

std::optional<schema::TenantRecord> TenantDirectory::authenticate(
    std::string_view presented_key) const {
  // Hash first, so the work done does not depend on whether the prefix is known.
  std::string presented_hash = sha256_hex(presented_key);
  if (!presented_key.starts_with(kApiKeyPrefix) || presented_key.size() < kApiKeyLookupChars)
    return std::nullopt;
  std::shared_lock lock(mutex_);
  auto key = keys_.find(std::string(presented_key.substr(0, kApiKeyLookupChars)));
  if (key == keys_.end()) return std::nullopt;
  bool match = constant_time_equal(presented_hash, key->second.key_sha256);
  if (!match || key->second.revoked) return std::nullopt;
  auto tenant = tenants_.find(key->second.tenant_id);
  if (tenant == tenants_.end() || tenant->second.deleted) return std::nullopt;
  return tenant->second;
}

std::size_t TenantDirectory::tenant_count() const {
  std::shared_lock lock(mutex_);
  std::size_t n = 0;
  for (const auto& [id, t] : tenants_) n += t.deleted ? 0 : 1;
  return n;
}

}  // namespace loraplane::gateway
