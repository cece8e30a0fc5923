// The gateway's view of tenants and API keys, rebuilt from the compacted loraplane.tenants topic
// (records "tenant/<id>" and "key/<prefix>"). Every gateway reads the whole topic, so a key
// created or revoked through any gateway takes effect on all of them within a poll interval.
// Keys are kept only as sha256 hashes and compared in constant time.
//
// Every record comes with its offset in the topic, and a record older than the one already held
// under its topic key is ignored. The gateway that writes a record puts it here at once, with
// the offset its delivery report gave, while the topic reader may still be behind: without the
// offsets the reader would then replay the key's creation over its revocation, and a revoked key
// would authenticate again until the reader caught up.
#pragma once

#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "schema/types.hpp"

namespace loraplane::gateway {

inline constexpr std::string_view kApiKeyPrefix = "pk-prov-";
inline constexpr std::size_t kApiKeyRandomChars = 40;
inline constexpr std::size_t kApiKeyLookupChars = 16;  // "pk-prov-" + 8: public, used to revoke

struct NewApiKey {
  std::string key;  // shown once, never stored
  schema::ApiKeyRecord record;
};

NewApiKey generate_api_key(std::string tenant_id, std::int64_t now);
std::string tenant_topic_key(std::string_view tenant_id);
std::string api_key_topic_key(std::string_view prefix);

class TenantDirectory {
 public:
  // Applies the record at `offset` of the topic; a tombstone removes it. Malformed records are
  // logged and skipped (a bad record must not stop the reader). Records of one topic key share a
  // partition, so their offsets order them.
  void apply(std::string_view topic_key, std::optional<std::string_view> value,
             std::int64_t offset);
  // A record this gateway wrote, at the offset the broker acknowledged.
  void put(const schema::TenantRecord& tenant, std::int64_t offset);
  void put(const schema::ApiKeyRecord& key, std::int64_t offset);

  // The live tenant `id`: nullopt when unknown or deleted.
  std::optional<schema::TenantRecord> tenant(std::string_view id) const;
  // The tenant's record whether live or deleted (DELETE of a deleted tenant sweeps again).
  std::optional<schema::TenantRecord> record(std::string_view id) const;
  std::optional<schema::TenantRecord> tenant_by_name(std::string_view name) const;
  std::optional<schema::ApiKeyRecord> api_key(std::string_view prefix) const;
  // The live tenant owning `presented_key`, or nullopt (unknown, revoked, wrong secret, tenant
  // deleted). The answer does not depend on which of these it was.
  std::optional<schema::TenantRecord> authenticate(std::string_view presented_key) const;
  std::size_t tenant_count() const;

 private:
  // Puts a parsed record or, for a tombstone, erases `id` from `map`.
  template <class Record, class Map>
  void apply_record(Map& map, std::string_view topic_key, std::string_view id,
                    std::optional<std::string_view> value, std::int64_t offset);
  // Under the unique lock: false when `topic_key` already holds a record from a later offset;
  // else records `offset` as the newest.
  bool advance(const std::string& topic_key, std::int64_t offset);

  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, schema::TenantRecord> tenants_;
  std::unordered_map<std::string, schema::ApiKeyRecord> keys_;  // by prefix
  // The offset of the newest record applied per topic key, tombstones included (a tombstone
  // must also win over a stale put). One entry per key ever written: the topic's own size.
  std::unordered_map<std::string, std::int64_t> offsets_;
};

}  // namespace loraplane::gateway
