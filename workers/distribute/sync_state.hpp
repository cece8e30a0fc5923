// The distribute worker's view of loraplane.adapters and its to-do list: the newest record per
// adapter (highest seq; a tombstone ends the adapter), and a de-duplicated queue of adapters to
// reconcile, with delayed retries. Not thread-safe: the Syncer guards both with its mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "schema/types.hpp"

namespace loraplane::distribute {

class AdapterTable {
 public:
  // Applies one record (nullopt = tombstone). Returns false when it is older than the record
  // already kept (a lower seq, or anything but a newer record after a tombstone).
  bool apply(const std::string& adapter_id, std::optional<schema::AdapterState> state);
  // The newest live record; nullopt for an unknown or tombstoned adapter.
  std::optional<schema::AdapterState> find(std::string_view adapter_id) const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::uint64_t seq = 0;
    std::optional<schema::AdapterState> state;  // nullopt after a tombstone
  };
  std::unordered_map<std::string, Entry> entries_;
};

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;
  // Queues for now; a pending delayed retry of the same adapter is brought forward.
  void push(const std::string& adapter_id);
  // Queues for `at`, unless already queued.
  void push_at(const std::string& adapter_id, Clock::time_point at);
  // The next adapter due at `now` (delayed ones first become due), or nullopt.
  std::optional<std::string> pop(Clock::time_point now);
  // When the earliest delayed retry becomes due.
  std::optional<Clock::time_point> next_due() const;
  bool has_ready() const { return !ready_.empty(); }
  bool empty() const { return ready_.empty() && delayed_.empty(); }

 private:
  std::deque<std::string> ready_;
  std::set<std::string, std::less<>> queued_;  // ready or delayed
  std::multimap<Clock::time_point, std::string> delayed_;
};

// What a storage node does with an adapter in a given state.
enum class Wanted {
  keep,    // validated and live: hold the blob, report it
  hold,    // an upload being validated: copy and hold the blob already, report nothing yet
  drop,    // deleting, failed, tombstoned or unknown: release the reference
  ignore,  // not validated yet and nothing to copy from: nothing to hold, nothing to release
};
Wanted wanted(const std::optional<schema::AdapterState>& state);

}  // namespace loraplane::distribute
