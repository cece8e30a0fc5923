#include "workers/sim_engine/generation.hpp"

namespace loraplane::sim_engine {

Generation::Generation(std::shared_ptr<EngineState> state, std::optional<LoraKey> lora,
                       TextPlan plan, const asio::any_io_executor& executor)
    : state_(std::move(state)), lora_(std::move(lora)), plan_(std::move(plan)), timer_(executor) {}

awaitable<Result<std::unique_ptr<Generation>>> Generation::start(std::shared_ptr<EngineState> state,
                                                                 std::optional<LoraKey> lora,
                                                                 TextPlan plan) {
  auto executor = co_await asio::this_coro::executor;
  auto admitted = co_await state->scheduler.admit(lora);
  if (!admitted) co_return admitted.error();
  std::unique_ptr<Generation> gen(new Generation(state, lora, std::move(plan), executor));
  gen->admitted_ = true;
  if (gen->lora_) {
    auto wait = state->cache.acquire(gen->lora_->id, gen->lora_->bytes, LoraCache::Clock::now());
    gen->pinned_ = true;
    co_await gen->sleep(wait);
  }
  co_return gen;
}

Generation::~Generation() {
  if (pinned_) state_->cache.release(lora_->id);
  if (admitted_) state_->scheduler.release(lora_);
}

awaitable<std::optional<std::string_view>> Generation::next() {
  if (done() || state_->stopping) co_return std::nullopt;
  const auto& o = state_->options;
  co_await sleep(std::chrono::duration_cast<std::chrono::nanoseconds>(next_ == 0 ? o.ttft : o.itl));
  if (state_->stopping) co_return std::nullopt;
  ++state_->counters.generation_tokens;
  co_return std::string_view(plan_.tokens[next_++]);
}

awaitable<void> Generation::sleep(std::chrono::nanoseconds duration) {
  if (duration.count() <= 0) co_return;
  timer_.expires_after(duration);
  auto [ec] = co_await timer_.async_wait(use_nothrow_awaitable);
  (void)ec;
}

}  // namespace loraplane::sim_engine
