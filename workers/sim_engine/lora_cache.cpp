#include "workers/sim_engine/lora_cache.hpp"

namespace loraplane::sim_engine {

void LoraCache::insert(std::uint64_t id, std::uint64_t bytes) {
  Entry& e = entries_[id];
  e.bytes = bytes;
  e.unloaded = false;
  e.last_used = ++tick_;
  if (!e.cpu) {
    make_room_cpu(id);
    e.cpu = true;
    ++cpu_count_;
  }
  if (!e.gpu) {
    make_room_gpu(id);
    if (gpu_count_ < options_.max_loras) {
      e.gpu = true;
      ++gpu_count_;
    }
  }
}

void LoraCache::erase(std::uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  it->second.unloaded = true;
  if (it->second.pins > 0) return;
  drop_cpu(it->second);
  entries_.erase(it);
}

std::chrono::nanoseconds LoraCache::acquire(std::uint64_t id, std::uint64_t bytes,
                                            Clock::time_point now) {
  auto [it, added] = entries_.try_emplace(id);
  Entry& e = it->second;
  if (added) {  // unloaded and dropped since the request was accepted: a load from disk
    e.bytes = bytes;
    e.unloaded = true;
  }
  ++e.pins;
  e.last_used = ++tick_;
  std::chrono::nanoseconds wait{0};
  if (e.ready_at > now) wait = e.ready_at - now;
  if (!e.cpu) {
    make_room_cpu(id);
    e.cpu = true;
    ++cpu_count_;
    ++counters_.adapter_loads;
    wait += load_cost(options_, e.bytes);
  }
  if (!e.gpu) {
    make_room_gpu(id);
    e.gpu = true;
    ++gpu_count_;
    ++counters_.swaps;
    wait += swap_cost(options_, e.bytes);
  }
  if (now + wait > e.ready_at) e.ready_at = now + wait;
  return wait;
}

void LoraCache::release(std::uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (e.pins > 0) --e.pins;
  if (e.unloaded && e.pins == 0) {
    drop_cpu(e);
    entries_.erase(it);
  }
  trim_cpu();
}

std::optional<LoraCache::Tier> LoraCache::tier(std::uint64_t id) const {
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.gpu) return Tier::gpu;
  return it->second.cpu ? Tier::cpu : Tier::disk;
}

void LoraCache::make_room_cpu(std::uint64_t keep) {
  while (cpu_count_ >= options_.cpu_slots()) {
    Entry* victim = lru_victim(false, keep);
    if (!victim) return;  // all pinned: exceed for a while, as vLLM does
    if (victim->gpu) ++counters_.gpu_evictions;
    drop_cpu(*victim);
    ++counters_.cpu_evictions;
  }
}

void LoraCache::trim_cpu() {
  while (cpu_count_ > options_.cpu_slots()) {
    Entry* victim = lru_victim(false, 0);
    if (!victim) return;
    if (victim->gpu) ++counters_.gpu_evictions;
    drop_cpu(*victim);
    ++counters_.cpu_evictions;
  }
}

void LoraCache::make_room_gpu(std::uint64_t keep) {
  while (gpu_count_ >= options_.max_loras) {
    Entry* victim = lru_victim(true, keep);
    if (!victim) return;
    drop_gpu(*victim);
    ++counters_.gpu_evictions;
  }
}

void LoraCache::drop_gpu(Entry& e) {
  if (!e.gpu) return;
  e.gpu = false;
  --gpu_count_;
}

void LoraCache::drop_cpu(Entry& e) {
  drop_gpu(e);
  if (!e.cpu) return;
  e.cpu = false;
  --cpu_count_;
}

LoraCache::Entry* LoraCache::lru_victim(bool gpu, std::uint64_t keep) {
  Entry* best = nullptr;
  for (auto& [id, e] : entries_) {
    if (id == keep || e.pins > 0 || !(gpu ? e.gpu : e.cpu)) continue;
    if (!best || e.last_used < best->last_used) best = &e;
  }
  return best;
}

}  // namespace loraplane::sim_engine
