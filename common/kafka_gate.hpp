// A delivery gate: holds back the delivery reports of records on chosen topics until a follower
// says it has made them durable. The embedded mode's journal (cmd/journal.hpp) copies the state
// topics from the in-memory mock cluster into RocksDB; without the gate a caller is answered
// once the mock broker has the record, and a kill -9 before the journal has read it undoes a
// change the caller was told had happened. With the gate, the producer reports a record on a
// gated topic only once the journal has written that offset (or a later one) of its partition.
//
// Only the mock cluster has a gate, and it gates nothing until the journal asks. Thread-safe;
// releases run on the thread that calls written(), expire() or cancel(), outside the lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loraplane::kafka {

class DeliveryGate {
 public:
  using Clock = std::chrono::steady_clock;
  // true: the follower wrote it; false: it did not in time, or its producer closed first.
  using Release = std::function<void(bool written)>;

  // Gates these topics (plain names, no prefix) from now on.
  void gate(std::vector<std::string> topics);
  bool gated(std::string_view topic) const;

  // Runs `release` once written(topic, partition, o) has been called with o >= offset: at once
  // if it already has been, else later on the writer's thread. `owner` tags the hold for
  // held() and cancel(); `deadline` is when expire() gives up on it.
  void hold(std::string_view topic, std::int32_t partition, std::int64_t offset,
            const void* owner, Clock::time_point deadline, Release release);
  // The follower has durably written every record of the partition up to `offset`.
  void written(std::string_view topic, std::int32_t partition, std::int64_t offset);
  // Releases (false) every hold whose deadline is before `now`; returns how many.
  std::size_t expire(Clock::time_point now);
  // Holds of one owner still waiting.
  std::size_t held(const void* owner) const;
  // Releases (false) every hold of one owner.
  void cancel(const void* owner);

 private:
  struct Hold {
    std::int64_t offset;
    const void* owner;
    Clock::time_point deadline;
    Release release;
  };
  using Partition = std::pair<std::string, std::int32_t>;
  void take_if(std::vector<Release>& out, const std::function<bool(const Hold&)>& done);

  std::atomic<bool> active_{false};  // some topic is gated: gated() skips the lock until then
  mutable std::mutex mutex_;
  std::set<std::string, std::less<>> topics_;
  std::map<Partition, std::int64_t> written_;     // highest offset written per partition
  std::map<Partition, std::vector<Hold>> holds_;  // waiting per partition
};

}  // namespace loraplane::kafka
