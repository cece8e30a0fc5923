// The gateway's view of adapters, rebuilt from the compacted loraplane.adapters topic and kept
// per tenant: every lookup takes the caller's tenant id, so another tenant's adapter is as
// invisible as a missing one. Records carry a per-adapter seq; an older record never replaces
// a newer one (the gateway writes through its own records before the reader sees them).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "schema/types.hpp"

namespace loraplane::gateway {

// "adp_" + 9 base62 digits of the creation time in ms + 12 random: ids sort by creation time.
std::string new_adapter_id(std::int64_t now_ms);

class AdapterDirectory {
 public:
  void apply(std::string_view adapter_id, std::optional<std::string_view> value);
  void put(const schema::AdapterState& state);
  // Hides an adapter this gateway just asked to delete, until the worker's records arrive.
  void hide(std::string_view adapter_id);

  // The tenant's adapter, unless missing, another tenant's, hidden or being deleted.
  std::optional<schema::AdapterState> get(std::string_view tenant_id,
                                          std::string_view adapter_id) const;
  // What inference and the upload checks need of the tenant's adapter `name` on `base_model`,
  // without copying the whole state (its adapter_config may be 64 KiB): the id and status.
  struct Brief {
    std::string id;
    schema::AdapterStatus status = schema::AdapterStatus::pending;
  };
  std::optional<Brief> brief_by_name(std::string_view tenant_id, std::string_view base_model,
                                     std::string_view name) const;
  // Newest first; `after` is the id of the last item of the previous page.
  std::vector<schema::AdapterState> list(std::string_view tenant_id, std::size_t limit,
                                         std::string_view after, bool& has_more) const;
  // Adapters that count against the tier limit: not failed, not being deleted.
  int count(std::string_view tenant_id) const;
  // Uploads (of every tenant) accepted but not yet ready or failed: pending or validating.
  std::size_t uploads_in_flight() const;

  // A name a request of this gateway is creating an adapter under (an upload streaming, an
  // import being queued), held until the request ends, when its adapter is in this directory
  // or it failed. A second request for the name meanwhile is refused at once, where both would
  // be accepted and the validate worker would fail the later one, which then holds the name
  // too. Another gateway's requests are not seen: between gateways the worker still decides.
  class NameClaim {
   public:
    NameClaim() = default;
    NameClaim(const NameClaim&) = delete;
    NameClaim& operator=(const NameClaim&) = delete;
    ~NameClaim();
    // False, holding nothing, when another request holds the name.
    bool take(AdapterDirectory& directory, std::string_view tenant_id,
              std::string_view base_model, std::string_view name);

   private:
    AdapterDirectory* directory_ = nullptr;
    std::string key_;
  };

 private:
  // locked: the state unless it is being deleted or hidden.
  const schema::AdapterState* visible(const schema::AdapterState* s) const;
  std::optional<schema::AdapterState> lookup(std::string_view adapter_id) const;  // locked
  const schema::AdapterState* find_visible(std::string_view adapter_id) const;   // locked
  // locked: the tenant's visible adapter with this name on this base (a live one before a
  // failed one), or nullptr.
  const schema::AdapterState* find_named(std::string_view tenant_id, std::string_view base_model,
                                         std::string_view name) const;

  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, schema::AdapterState> adapters_;
  // Per tenant, newest id first, to its state in adapters_ (a node: the pointer stays valid
  // until the id is erased from every index). Lists and counts walk these without a copy or a
  // hash per adapter.
  std::unordered_map<std::string,
                     std::map<std::string, const schema::AdapterState*, std::greater<>>>
      by_tenant_;
  // tenant '\n' base '\n' name → the ids under that name, newest first (several only while
  // failed duplicates of a name exist): an inference request's lookup reads one entry, not
  // the tenant's every adapter.
  std::unordered_map<std::string,
                     std::map<std::string, const schema::AdapterState*, std::greater<>>>
      by_name_;
  static std::string name_key(std::string_view tenant_id, std::string_view base_model,
                              std::string_view name);
  void unindex(const schema::AdapterState& state);  // locked: out of by_tenant_ and by_name_
  std::unordered_map<std::string, bool> hidden_;
  std::mutex claims_mutex_;
  std::set<std::string> claims_;  // tenant '\n' base '\n' name
};

}  // namespace loraplane::gateway
