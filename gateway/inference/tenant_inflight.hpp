// Per-tenant bound on inference requests in flight through one gateway, by tier (shared 32,
// reserved 128, dedicated 512, or one bound for all when configured): a tenant that floods the
// fleet gets 429 + Retry-After on its own requests instead of queueing everyone else's.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "schema/types.hpp"

namespace loraplane::gateway::inference {

int default_max_inflight(schema::Tier tier);

class TenantInflight {
 public:
  // override_limit > 0: that bound for every tier.
  explicit TenantInflight(int override_limit = 0) : override_(override_limit) {}

  // Holds one slot until destroyed.
  class Slot {
   public:
    Slot(TenantInflight* owner, std::string tenant) : owner_(owner), tenant_(std::move(tenant)) {}
    Slot(Slot&& other) noexcept : owner_(other.owner_), tenant_(std::move(other.tenant_)) {
      other.owner_ = nullptr;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;
    ~Slot();

   private:
    TenantInflight* owner_;
    std::string tenant_;
  };

  // nullopt when the tenant already has its bound in flight.
  std::optional<Slot> acquire(const std::string& tenant_id, schema::Tier tier);
  int limit(schema::Tier tier) const { return override_ > 0 ? override_ : default_max_inflight(tier); }

 private:
  void release(const std::string& tenant_id);

  const int override_;
  std::mutex mutex_;
  std::unordered_map<std::string, int> inflight_;  // only tenants with requests in flight
};

}  // namespace loraplane::gateway::inference
