// The state of one simulated engine, shared by its handlers: settings, the served adapters,
// where their weights are, the batch, the counters. Everything runs on the io_context's thread
// (a single-threaded io_context), so nothing here is locked.
#pragma once

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <utility>

#include "common/asio.hpp"
#include "workers/sim_engine/counters.hpp"
#include "workers/sim_engine/lora_cache.hpp"
#include "workers/sim_engine/lora_registry.hpp"
#include "workers/sim_engine/options.hpp"
#include "workers/sim_engine/scheduler.hpp"

namespace loraplane::sim_engine {

// vllm:lora_requests_info is a gauge whose labels name the running and waiting adapters and
// whose value is the time it was last set. Like prometheus_client, every label set seen stays
// exposed with its last timestamp (readers take the newest); unlike it, we keep a bounded
// number of them.
class LoraInfoSeries {
 public:
  static constexpr std::size_t kMaxSeries = 32;
  void set(const std::string& running, const std::string& waiting, double unix_seconds);
  // (running, waiting) → unix seconds
  const std::map<std::pair<std::string, std::string>, double>& series() const { return series_; }

 private:
  std::map<std::pair<std::string, std::string>, double> series_;
};

struct EngineState {
  EngineState(asio::io_context& io_, SimEngineOptions opts);

  asio::io_context& io;
  SimEngineOptions options;
  EngineCounters counters;
  LoraRegistry registry;
  LoraCache cache;
  Scheduler scheduler;
  LoraInfoSeries lora_info;
  bool stopping = false;
  std::mt19937_64 id_rng;  // request and permission ids only; generated text uses options.seed

  // Records the current running/waiting adapters in lora_info with the time now.
  void record_lora_info();
  // 32 lowercase hex digits, like Python's uuid4().hex.
  std::string random_hex();
};

// A simulated delay on the calling coroutine's executor; returns at once for zero.
awaitable<void> sleep_for(std::chrono::nanoseconds duration);

double unix_seconds_now();

}  // namespace loraplane::sim_engine
