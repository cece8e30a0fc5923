// The adapters this engine serves by name (vLLM's OpenAIServingModels.lora_requests): what
// /v1/models lists and what `model` may name, in load order, plus the per-name lock that keeps
// two loads or unloads of one name from interleaving. Where an adapter's weights sit (GPU, host
// memory, disk) is LoraCache's business.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "workers/sim_engine/wait_list.hpp"

namespace loraplane::sim_engine {

struct AdapterRecord {
  std::uint64_t id = 0;  // vLLM's lora_int_id; kept when reloaded in place
  std::string name;
  std::string path;
  std::uint64_t bytes = 0;  // size of the weights file
  int rank = 0;
};

class LoraRegistry {
 public:
  const AdapterRecord* find(std::string_view name) const;
  // Adds `name`, or replaces its path and size when it exists (load_inplace) keeping its id and
  // position. Returns the stored record.
  const AdapterRecord& put(const std::string& name, const std::string& path, std::uint64_t bytes,
                           int rank);
  std::optional<AdapterRecord> remove(std::string_view name);
  const std::vector<AdapterRecord>& all() const { return records_; }
  std::size_t size() const { return records_.size(); }

  // Held while one load or unload of a name runs; released on destruction.
  class NameLock {
   public:
    NameLock(LoraRegistry* registry, std::string name)
        : registry_(registry), name_(std::move(name)) {}
    NameLock(NameLock&& other) noexcept
        : registry_(std::exchange(other.registry_, nullptr)), name_(std::move(other.name_)) {}
    NameLock& operator=(NameLock&&) = delete;
    ~NameLock();

   private:
    LoraRegistry* registry_;
    std::string name_;
  };
  awaitable<NameLock> lock(std::string name);

 private:
  void reindex();

  std::vector<AdapterRecord> records_;
  std::unordered_map<std::string, std::size_t> index_;
  std::uint64_t next_id_ = 1;
  std::set<std::string, std::less<>> locked_;
  WaitList lock_waiters_;
};

}  // namespace loraplane::sim_engine
