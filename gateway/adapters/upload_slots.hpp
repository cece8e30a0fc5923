// Admission of streaming uploads: at most `gateway_max` in progress on this gateway and
// `tenant_max` per tenant. Each upload holds up to kChunksInFlight chunks in the producer queue
// plus its read buffer (~10 MiB), so the bound is what keeps the gateway's memory flat when
// clients send more than Kafka takes. Refused uploads get 503 (gateway full) or 429 (tenant
// full) with Retry-After before their body is read.
#pragma once

#include <cstddef>
#include <string>

#include "gateway/keyed_slots.hpp"

namespace loraplane::gateway::adapters {

class UploadSlots {
 public:
  UploadSlots(std::size_t gateway_max, std::size_t tenant_max);

  using Slot = KeyedSlots::Slot;
  using Refusal = KeyedSlots::Refusal;  // total_full: this gateway; key_full: this tenant
  using Admission = KeyedSlots::Admission;
  Admission acquire(const std::string& tenant_id) { return slots_.acquire(tenant_id, tenant_max_); }

  std::size_t gateway_max() const { return slots_.total_max(); }
  std::size_t tenant_max() const { return tenant_max_; }
  std::size_t in_progress() const { return slots_.held(); }

 private:
  const std::size_t tenant_max_;
  KeyedSlots slots_;
};

}  // namespace loraplane::gateway::adapters
