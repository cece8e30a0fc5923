// Admission of streaming uploads: at most `gateway_max` in progress on this gateway and
// `tenant_max` per tenant. Each upload holds up to kChunksInFlight chunks in the producer queue
// plus its read buffer (~10 MiB), so the bound is what keeps the gateway's memory flat when
// clients send more than Kafka takes. Refused uploads get 503 (gateway full) or 429 (tenant
// full) with Retry-After before their body is read.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace loraplane::gateway::adapters {

class UploadSlots {
 public:
  UploadSlots(std::size_t gateway_max, std::size_t tenant_max)
      : gateway_max_(gateway_max), tenant_max_(tenant_max) {}

  // Holds one slot until destroyed.
  class Slot {
   public:
    Slot(UploadSlots* owner, std::string tenant) : owner_(owner), tenant_(std::move(tenant)) {}
    Slot(Slot&& other) noexcept : owner_(other.owner_), tenant_(std::move(other.tenant_)) {
      other.owner_ = nullptr;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;
    ~Slot();

   private:
    UploadSlots* owner_;
    std::string tenant_;
  };

  enum class Refusal { gateway_full, tenant_full };
  struct Admission {
    std::optional<Slot> slot;
    Refusal refusal = Refusal::gateway_full;  // meaningful when !slot
  };
  Admission acquire(const std::string& tenant_id);

  std::size_t gateway_max() const { return gateway_max_; }
  std::size_t tenant_max() const { return tenant_max_; }
  std::size_t in_progress() const;

 private:
  void release(const std::string& tenant_id);

  const std::size_t gateway_max_;
  const std::size_t tenant_max_;
  mutable std::mutex mutex_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_tenant_;  // only tenants uploading now
};

}  // namespace loraplane::gateway::adapters
