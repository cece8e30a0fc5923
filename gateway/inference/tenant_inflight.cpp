#include "gateway/inference/tenant_inflight.hpp"

namespace loraplane::gateway::inference {

int default_max_inflight(schema::Tier tier) {
  switch (tier) {
    case schema::Tier::shared: return 32;
    case schema::Tier::reserved: return 128;
    case schema::Tier::dedicated: return 512;
  }
  return 32;
}

TenantInflight::Slot::~Slot() {
  if (owner_ != nullptr) owner_->release(tenant_);
}

std::optional<TenantInflight::Slot> TenantInflight::acquire(const std::string& tenant_id,
                                                            schema::Tier tier) {
  std::lock_guard lock(mutex_);
  int& n = inflight_[tenant_id];
  if (n >= limit(tier)) {
    if (n == 0) inflight_.erase(tenant_id);
    return std::nullopt;
  }
  ++n;
  return Slot(this, tenant_id);
}

void TenantInflight::release(const std::string& tenant_id) {
  std::lock_guard lock(mutex_);
  auto it = inflight_.find(tenant_id);
  if (it == inflight_.end()) return;
  if (--it->second <= 0) inflight_.erase(it);
}

}  // namespace loraplane::gateway::inference
