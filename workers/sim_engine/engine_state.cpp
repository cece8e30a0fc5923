#include "workers/sim_engine/engine_state.hpp"

namespace loraplane::sim_engine {

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

}  // namespace

void LoraInfoSeries::set(const std::string& running, const std::string& waiting,
                         double unix_seconds) {
  series_[{running, waiting}] = unix_seconds;
  while (series_.size() > kMaxSeries) {
    auto oldest = series_.begin();
    for (auto it = series_.begin(); it != series_.end(); ++it)
      if (it->second < oldest->second) oldest = it;
    series_.erase(oldest);
  }
}

EngineState::EngineState(asio::io_context& io_, SimEngineOptions opts)
    : io(io_),
      options(std::move(opts)),
      cache(options, counters),
      scheduler(options.max_num_seqs, options.max_loras, options.max_waiting),
      id_rng(std::random_device{}()) {
  scheduler.on_change([this] { record_lora_info(); });
  record_lora_info();
}

void EngineState::record_lora_info() {
  lora_info.set(join(scheduler.running_adapters()), join(scheduler.waiting_adapters()),
                unix_seconds_now());
}

std::string EngineState::random_hex() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  std::uint64_t a = id_rng(), b = id_rng();
  for (int i = 0; i < 16; ++i) {
    out[i] = kHex[(a >> (i * 4)) & 0xf];
    out[16 + i] = kHex[(b >> (i * 4)) & 0xf];
  }
  return out;
}

awaitable<void> sleep_for(std::chrono::nanoseconds duration) {
  if (duration.count() <= 0) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  auto [ec] = co_await timer.async_wait(use_nothrow_awaitable);
  (void)ec;
}

double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace loraplane::sim_engine
