#include "gateway/keyed_slots.hpp"

#include <prometheus/gauge.h>

namespace loraplane::gateway {

KeyedSlots::Slot::~Slot() {
  if (owner_ != nullptr) owner_->release(key_);
}

KeyedSlots::Admission KeyedSlots::acquire(const std::string& key, std::size_t key_max) {
  std::lock_guard lock(mutex_);
  Admission out;
  if (total_ >= total_max_) {
    out.refusal = Refusal::total_full;
    return out;
  }
  auto [it, inserted] = per_key_.try_emplace(key, 0);
  if (it->second >= key_max) {
    if (inserted) per_key_.erase(it);
    out.refusal = Refusal::key_full;
    return out;
  }
  ++it->second;
  ++total_;
  if (held_gauge_ != nullptr) held_gauge_->Increment();
  out.slot.emplace(this, key);
  return out;
}

void KeyedSlots::release(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = per_key_.find(key);
  if (it == per_key_.end()) return;
  --total_;
  if (held_gauge_ != nullptr) held_gauge_->Decrement();
  if (--it->second == 0) per_key_.erase(it);
}

std::size_t KeyedSlots::held() const {
  std::lock_guard lock(mutex_);
  return total_;
}

}  // namespace loraplane::gateway
