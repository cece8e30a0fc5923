// Per-tenant bound on inference requests in flight through one gateway, by tier (shared 32,
// reserved 128, dedicated 512, or one bound for all when configured): a tenant that floods the
// fleet gets 429 + Retry-After on its own requests instead of queueing everyone else's.
#pragma once

#include <optional>
#include <string>

#include "gateway/keyed_slots.hpp"
#include "schema/types.hpp"

namespace loraplane::gateway::inference {

int default_max_inflight(schema::Tier tier);

class TenantInflight {
 public:
  // override_limit > 0: that bound for every tier.
  explicit TenantInflight(int override_limit = 0) : override_(override_limit) {}

  using Slot = KeyedSlots::Slot;  // held until destroyed
  // nullopt when the tenant already has its bound in flight.
  std::optional<Slot> acquire(const std::string& tenant_id, schema::Tier tier) {
    return slots_.acquire(tenant_id, static_cast<std::size_t>(limit(tier))).slot;
  }
  int limit(schema::Tier tier) const { return override_ > 0 ? override_ : default_max_inflight(tier); }

 private:
  const int override_;
  KeyedSlots slots_;
};

}  // namespace loraplane::gateway::inference
