#include "gateway/adapters/upload_slots.hpp"

#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include "common/metrics.hpp"

namespace loraplane::gateway::adapters {

namespace {
prometheus::Gauge& in_progress_gauge() {
  static auto& gauge = prometheus::BuildGauge()
                           .Name("loraplane_gateway_uploads_in_progress")
                           .Help("Streaming uploads admitted and not finished on this gateway")
                           .Register(metrics::registry())
                           .Add({});
  return gauge;
}
}  // namespace

UploadSlots::Slot::~Slot() {
  if (owner_ != nullptr) owner_->release(tenant_);
}

UploadSlots::Admission UploadSlots::acquire(const std::string& tenant_id) {
  std::lock_guard lock(mutex_);
  Admission out;
  if (total_ >= gateway_max_) {
    out.refusal = Refusal::gateway_full;
    return out;
  }
  auto& mine = per_tenant_[tenant_id];
  if (mine >= tenant_max_) {
    if (mine == 0) per_tenant_.erase(tenant_id);
    out.refusal = Refusal::tenant_full;
    return out;
  }
  ++mine;
  ++total_;
  in_progress_gauge().Increment();
  out.slot.emplace(this, tenant_id);
  return out;
}

void UploadSlots::release(const std::string& tenant_id) {
  std::lock_guard lock(mutex_);
  --total_;
  in_progress_gauge().Decrement();
  auto it = per_tenant_.find(tenant_id);
  if (it != per_tenant_.end() && --it->second == 0) per_tenant_.erase(it);
}

std::size_t UploadSlots::in_progress() const {
  std::lock_guard lock(mutex_);
  return total_;
}

}  // namespace loraplane::gateway::adapters
