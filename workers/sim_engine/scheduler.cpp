#include "workers/sim_engine/scheduler.hpp"

#include <algorithm>

namespace loraplane::sim_engine {

awaitable<Status> Scheduler::admit(std::optional<LoraKey> lora) {
  if (stopped_) co_return make_error(Errc::unavailable, "engine is stopping");
  if (fits(lora)) {  // waiters, if any, are held back by max_loras, not by this request
    start(lora);
    changed();
    co_return Status{};
  }
  if (waiting_.size() >= max_waiting_)
    co_return make_error(Errc::limit_exceeded, "waiting queue is full");
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           asio::steady_timer::time_point::max());
  Waiter waiter{std::move(lora), &timer, false};
  auto it = waiting_.insert(waiting_.end(), &waiter);
  struct Leave {  // a waiter that gives up (stop, destroyed frame) leaves the queue
    Scheduler& s;
    Waiter& w;
    std::list<Waiter*>::iterator it;
    ~Leave() {
      if (w.admitted) return;
      s.waiting_.erase(it);
      s.changed();
    }
  } leave{*this, waiter, it};
  changed();
  while (!waiter.admitted && !stopped_) {
    auto [ec] = co_await timer.async_wait(use_nothrow_awaitable);
    (void)ec;
  }
  if (!waiter.admitted) co_return make_error(Errc::unavailable, "engine is stopping");
  co_return Status{};
}

void Scheduler::release(const std::optional<LoraKey>& lora) {
  if (running_ > 0) --running_;
  if (lora) {
    auto it = running_loras_.find(lora->id);
    if (it != running_loras_.end() && --it->second.second == 0) running_loras_.erase(it);
  }
  admit_waiting();
  changed();
}

void Scheduler::stop() {
  stopped_ = true;
  for (auto* w : waiting_) w->timer->cancel();
}

bool Scheduler::fits(const std::optional<LoraKey>& lora) const {
  if (running_ >= max_num_seqs_) return false;
  if (!lora) return true;
  return running_loras_.count(lora->id) != 0 || running_loras_.size() < max_loras_;
}

void Scheduler::start(const std::optional<LoraKey>& lora) {
  ++running_;
  if (lora) {
    auto& slot = running_loras_[lora->id];
    slot.first = lora->name;
    ++slot.second;
  }
}

void Scheduler::admit_waiting() {
  for (auto it = waiting_.begin(); it != waiting_.end() && running_ < max_num_seqs_;) {
    Waiter* w = *it;
    if (!fits(w->lora)) {
      ++it;
      continue;
    }
    start(w->lora);
    w->admitted = true;
    w->timer->cancel();
    it = waiting_.erase(it);
  }
}

std::vector<std::string> Scheduler::running_adapters() const {
  std::vector<std::string> names;
  for (const auto& [id, slot] : running_loras_) names.push_back(slot.first);
  return names;
}

std::vector<std::string> Scheduler::waiting_adapters() const {
  std::vector<std::string> names;
  for (const auto* w : waiting_) {
    if (w->lora && std::find(names.begin(), names.end(), w->lora->name) == names.end())
      names.push_back(w->lora->name);
  }
  return names;
}

}  // namespace loraplane::sim_engine
