// One request's life in the simulated batch: it waits for a place (Scheduler), then for its
// adapter to reach a GPU slot (LoraCache: swap from host memory or reload from disk), then
// yields tokens at the time-to-first-token and inter-token pace. Its batch place and adapter
// pin are released when it is destroyed — so a client that disconnects mid-stream frees them
// as soon as its handler unwinds.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "workers/sim_engine/engine_state.hpp"
#include "workers/sim_engine/text_gen.hpp"

namespace loraplane::sim_engine {

class Generation {
 public:
  // Errors: Errc::limit_exceeded (waiting queue full), Errc::unavailable (engine stopping).
  // An adapter unloaded while the request waited still serves it (lora_cache.hpp).
  static awaitable<Result<std::unique_ptr<Generation>>> start(std::shared_ptr<EngineState> state,
                                                              std::optional<LoraKey> lora,
                                                              TextPlan plan);
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;
  ~Generation();

  // The next token: after TTFT for the first, ITL for the others. nullopt when the text is done
  // or the engine is stopping.
  awaitable<std::optional<std::string_view>> next();
  std::uint32_t emitted() const { return static_cast<std::uint32_t>(next_); }
  bool done() const { return next_ >= plan_.tokens.size(); }
  const TextPlan& plan() const { return plan_; }

 private:
  Generation(std::shared_ptr<EngineState> state, std::optional<LoraKey> lora, TextPlan plan,
             const asio::any_io_executor& executor);
  awaitable<void> sleep(std::chrono::nanoseconds duration);

  std::shared_ptr<EngineState> state_;
  std::optional<LoraKey> lora_;
  TextPlan plan_;
  asio::steady_timer timer_;
  std::size_t next_ = 0;
  bool admitted_ = false;
  bool pinned_ = false;
};

}  // namespace loraplane::sim_engine
