// Counted admission per key (a tenant id): at most `key_max` slots per key and `total_max` over
// all keys; a Slot gives its count back when destroyed, so an early co_return or an exception
// never leaks one. Uploads (adapters/upload_slots.hpp) and inference requests in flight
// (inference/tenant_inflight.hpp) are both admitted through one of these.
#pragma once

#include <cstddef>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace prometheus {
class Gauge;
}

namespace loraplane::gateway {

class KeyedSlots {
 public:
  // `held`, when given, follows the number of slots held.
  explicit KeyedSlots(std::size_t total_max = std::numeric_limits<std::size_t>::max(),
                      prometheus::Gauge* held = nullptr)
      : total_max_(total_max), held_gauge_(held) {}

  class Slot {
   public:
    Slot(KeyedSlots* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    Slot(Slot&& other) noexcept : owner_(other.owner_), key_(std::move(other.key_)) {
      other.owner_ = nullptr;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;
    ~Slot();

   private:
    KeyedSlots* owner_;
    std::string key_;
  };

  enum class Refusal { total_full, key_full };
  struct Admission {
    std::optional<Slot> slot;
    Refusal refusal = Refusal::total_full;  // meaningful when !slot
  };
  Admission acquire(const std::string& key, std::size_t key_max);

  std::size_t total_max() const { return total_max_; }
  std::size_t held() const;

 private:
  void release(const std::string& key);

  const std::size_t total_max_;
  prometheus::Gauge* const held_gauge_;
  mutable std::mutex mutex_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_key_;  // only keys holding slots now
};

}  // namespace loraplane::gateway
