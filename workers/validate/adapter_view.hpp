// The validate worker's view of adapters and tenant tiers, rebuilt by table readers of the
// compacted loraplane.adapters and loraplane.tenants topics. Per adapter the record with the
// highest seq wins, whichever arrives first: the worker puts its own writes into the view as
// soon as they are acknowledged, and its reader delivers the same records later. A tombstone
// leaves a marker with the last seq, so a late older record cannot bring the adapter back.
// Thread-safe: readers apply from their threads while the job handler queries.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "schema/types.hpp"

namespace loraplane::validate {

class AdapterView {
 public:
  // One record of loraplane.adapters (nullopt = tombstone). Malformed records are logged and
  // skipped: a bad record must not stop the reader.
  void apply(std::string_view adapter_id, std::optional<std::string_view> value);
  // Keeps `state` unless the view already holds a higher seq (or a tombstone at least as new).
  void put(const schema::AdapterState& state);
  void erase(std::string_view adapter_id);

  std::optional<schema::AdapterState> get(std::string_view adapter_id) const;
  // get(), waiting up to `timeout` for the adapter to appear (the gateway's pending record can
  // reach the reader after the job reaches the job consumer), or until close().
  std::optional<schema::AdapterState> wait_for(std::string_view adapter_id,
                                               std::chrono::milliseconds timeout) const;
  // Another admitted adapter (validating, ready or failed; not pending, not being deleted) of
  // the tenant with this name on this base model, if any (the message names it).
  std::optional<schema::Adapter> name_holder(std::string_view tenant_id,
                                             std::string_view base_model, std::string_view name,
                                             std::string_view except_id) const;
  // Adapters counted against the tier limit: admitted and not failed (validating, ready).
  int admitted_count(std::string_view tenant_id, std::string_view except_id) const;
  // The tenant's adapters not yet being deleted, whatever their status.
  std::vector<schema::AdapterState> undeleted(std::string_view tenant_id) const;
  // Adapters whose delete began (`deleting`) and has not ended in a tombstone: the tenant's, or
  // every tenant's when `tenant_id` is empty.
  std::vector<schema::AdapterState> deleting(std::string_view tenant_id = {}) const;
  // Ends every wait at once (the worker is stopping).
  void close();

 private:
  struct Entry {
    schema::AdapterState state;
    bool gone = false;  // tombstoned; state.seq is the last seq seen
  };
  const Entry* live(std::string_view adapter_id) const;  // locked

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::unordered_map<std::string, Entry> adapters_;
  std::unordered_map<std::string, std::set<std::string>> by_tenant_;
  bool closed_ = false;
};

// Tenant id → tier, from the "tenant/<id>" records of loraplane.tenants ("key/..." records are
// the gateway's business and ignored here), and which tenants were deleted.
class TenantTiers {
 public:
  // Returns the tenant's id when the record says it is deleted (every time such a record is
  // read, not only the first).
  std::optional<std::string> apply(std::string_view topic_key,
                                   std::optional<std::string_view> value);
  void put(const schema::TenantRecord& tenant);
  // The tenant's tier, waiting up to `timeout` (or until close()) for its record; nullopt if it
  // never came.
  std::optional<schema::Tier> wait_for(std::string_view tenant_id,
                                       std::chrono::milliseconds timeout) const;
  // True once a record has said the tenant was deleted (never undone: ids are not reused).
  bool deleted(std::string_view tenant_id) const;
  std::vector<std::string> deleted_ids() const;
  void close();

 private:
  struct Tenant {
    std::optional<schema::Tier> tier;  // nullopt after a tombstone
    bool deleted = false;
  };

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::unordered_map<std::string, Tenant> tenants_;
  bool closed_ = false;
};

}  // namespace loraplane::validate
