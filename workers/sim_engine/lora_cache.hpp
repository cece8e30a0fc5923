// Where each loaded adapter's weights are, as vLLM's LRU caches keep them: at most max_loras on
// the GPU and max_cpu_loras in host memory (GPU-resident ones included), the rest only on disk.
// An adapter used by a running request is pinned and never evicted; the scheduler keeps the
// number of distinct pinned adapters within max_loras, so a GPU slot can always be freed.
// An unloaded adapter still serves the requests accepted before its unload, as in vLLM: there a
// request carries its LoRARequest (id and path) from the model check on, and unload only takes
// the name out of the server's list (serving_models.py), so the worker loads it from disk again
// if its LRU cache dropped it meanwhile.
// Moving weights costs time (options.cpp); the cache says how long a request waits for them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "workers/sim_engine/counters.hpp"
#include "workers/sim_engine/options.hpp"

namespace loraplane::sim_engine {

class LoraCache {
 public:
  using Clock = std::chrono::steady_clock;

  LoraCache(const SimEngineOptions& options, EngineCounters& counters)
      : options_(options), counters_(counters) {}

  // After a load from disk (the caller paid its cost): in host memory, and on the GPU when a
  // slot is free or held by an idle adapter. A reload in place keeps the adapter's slots.
  void insert(std::uint64_t id, std::uint64_t bytes);
  // Forgets an unloaded adapter; one still used by running requests goes when they finish.
  void erase(std::uint64_t id);

  // A request for `id` (`bytes` of weights) was admitted: pins it and brings it to the GPU,
  // returning how long the request waits for that (0 when resident and ready). An id unloaded
  // since the request was accepted is loaded from disk for it and forgotten again after its
  // last request.
  std::chrono::nanoseconds acquire(std::uint64_t id, std::uint64_t bytes, Clock::time_point now);
  void release(std::uint64_t id);

  enum class Tier { gpu, cpu, disk };
  std::optional<Tier> tier(std::uint64_t id) const;
  std::size_t gpu_count() const { return gpu_count_; }
  std::size_t cpu_count() const { return cpu_count_; }

 private:
  struct Entry {
    std::uint64_t bytes = 0;
    bool gpu = false;
    bool cpu = false;
    bool unloaded = false;
    int pins = 0;
    std::uint64_t last_used = 0;
    Clock::time_point ready_at{};
  };
  void make_room_cpu(std::uint64_t keep);
  // Back within max_cpu_loras after running over it while everything was pinned.
  void trim_cpu();
  void make_room_gpu(std::uint64_t keep);
  void drop_gpu(Entry& entry);
  void drop_cpu(Entry& entry);
  // The least recently used entry on `gpu` (else in host memory) that is not pinned, not `keep`.
  Entry* lru_victim(bool gpu, std::uint64_t keep);

  const SimEngineOptions& options_;
  EngineCounters& counters_;
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::size_t gpu_count_ = 0;
  std::size_t cpu_count_ = 0;
  std::uint64_t tick_ = 0;
};

}  // namespace loraplane::sim_engine
