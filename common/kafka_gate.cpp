#include "common/kafka_gate.hpp"

#include <algorithm>

namespace loraplane::kafka {

namespace {

void run_all(std::vector<DeliveryGate::Release>& releases, bool written) {
  for (auto& release : releases) release(written);
}

}  // namespace

void DeliveryGate::gate(std::vector<std::string> topics) {
  std::lock_guard lock(mutex_);
  for (auto& topic : topics) topics_.insert(std::move(topic));
  active_ = !topics_.empty();
}

bool DeliveryGate::gated(std::string_view topic) const {
  if (!active_.load(std::memory_order_acquire)) return false;
  std::lock_guard lock(mutex_);
  return topics_.find(topic) != topics_.end();
}

void DeliveryGate::hold(std::string_view topic, std::int32_t partition, std::int64_t offset,
                        const void* owner, Clock::time_point deadline, Release release) {
  {
    std::lock_guard lock(mutex_);
    Partition key(std::string(topic), partition);
    auto done = written_.find(key);
    if (done == written_.end() || done->second < offset) {
      holds_[std::move(key)].push_back({offset, owner, deadline, std::move(release)});
      return;
    }
  }
  release(true);
}

void DeliveryGate::written(std::string_view topic, std::int32_t partition, std::int64_t offset) {
  std::vector<Release> released;
  {
    std::lock_guard lock(mutex_);
    Partition key(std::string(topic), partition);
    auto& mark = written_[key];
    mark = std::max(mark, offset);
    auto waiting = holds_.find(key);
    if (waiting == holds_.end()) return;
    auto& list = waiting->second;
    auto kept = std::stable_partition(list.begin(), list.end(),
                                      [&](const Hold& h) { return h.offset > offset; });
    for (auto it = kept; it != list.end(); ++it) released.push_back(std::move(it->release));
    list.erase(kept, list.end());
    if (list.empty()) holds_.erase(waiting);
  }
  run_all(released, true);
}

void DeliveryGate::take_if(std::vector<Release>& out,
                           const std::function<bool(const Hold&)>& done) {
  for (auto it = holds_.begin(); it != holds_.end();) {
    auto& list = it->second;
    auto kept = std::stable_partition(list.begin(), list.end(),
                                      [&](const Hold& h) { return !done(h); });
    for (auto h = kept; h != list.end(); ++h) out.push_back(std::move(h->release));
    list.erase(kept, list.end());
    it = list.empty() ? holds_.erase(it) : std::next(it);
  }
}

std::size_t DeliveryGate::expire(Clock::time_point now) {
  std::vector<Release> expired;
  {
    std::lock_guard lock(mutex_);
    take_if(expired, [now](const Hold& h) { return h.deadline < now; });
  }
  run_all(expired, false);
  return expired.size();
}

std::size_t DeliveryGate::held(const void* owner) const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& entry : holds_)
    n += static_cast<std::size_t>(std::count_if(
        entry.second.begin(), entry.second.end(), [owner](const Hold& h) { return h.owner == owner; }));
  return n;
}

void DeliveryGate::cancel(const void* owner) {
  std::vector<Release> cancelled;
  {
    std::lock_guard lock(mutex_);
    take_if(cancelled, [owner](const Hold& h) { return h.owner == owner; });
  }
  run_all(cancelled, false);
}

}  // namespace loraplane::kafka
