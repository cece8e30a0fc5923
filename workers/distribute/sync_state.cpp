#include "workers/distribute/sync_state.hpp"

namespace loraplane::distribute {

bool AdapterTable::apply(const std::string& adapter_id, std::optional<schema::AdapterState> state) {
  auto [it, inserted] = entries_.try_emplace(adapter_id);
  Entry& entry = it->second;
  if (!state) {  // tombstone: ends the adapter whatever its seq
    if (!inserted && !entry.state) return false;
    entry.state.reset();
    return true;
  }
  if (!inserted) {
    // Equal seq replaces a live record (records written before seq existed all carry 0, and
    // the log order is then the order), never a tombstone.
    if (state->seq < entry.seq || (state->seq == entry.seq && !entry.state)) return false;
  }
  state->adapter_config.reset();  // up to 64 KiB each, and not needed here
  entry.seq = state->seq;
  entry.state = std::move(state);
  return true;
}

std::optional<schema::AdapterState> AdapterTable::find(std::string_view adapter_id) const {
  auto it = entries_.find(std::string(adapter_id));
  if (it == entries_.end()) return std::nullopt;
  return it->second.state;
}

void WorkQueue::push(const std::string& adapter_id) {
  if (queued_.contains(adapter_id)) {
    for (auto it = delayed_.begin(); it != delayed_.end(); ++it) {
      if (it->second != adapter_id) continue;
      delayed_.erase(it);
      ready_.push_back(adapter_id);
      break;
    }
    return;
  }
  queued_.insert(adapter_id);
  ready_.push_back(adapter_id);
}

void WorkQueue::push_at(const std::string& adapter_id, Clock::time_point at) {
  if (!queued_.insert(adapter_id).second) return;
  delayed_.emplace(at, adapter_id);
}

std::optional<std::string> WorkQueue::pop(Clock::time_point now) {
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    ready_.push_back(std::move(delayed_.begin()->second));
    delayed_.erase(delayed_.begin());
  }
  if (ready_.empty()) return std::nullopt;
  std::string id = std::move(ready_.front());
  ready_.pop_front();
  queued_.erase(id);
  return id;
}

std::optional<WorkQueue::Clock::time_point> WorkQueue::next_due() const {
  if (delayed_.empty()) return std::nullopt;
  return delayed_.begin()->first;
}

Wanted wanted(const std::optional<schema::AdapterState>& state) {
  if (!state) return Wanted::drop;
  switch (state->adapter.status) {
    case schema::AdapterStatus::deleting:
    case schema::AdapterStatus::failed:
      return Wanted::drop;
    case schema::AdapterStatus::ready:  // only ever written after validation
      return Wanted::keep;
    case schema::AdapterStatus::validating:
      // Held before validation ends so that the copy overlaps it. If validation fails, the
      // `failed` record releases the reference and the blob goes with it.
      if (state->validated) return Wanted::keep;
      return state->upload_location ? Wanted::hold : Wanted::ignore;
    case schema::AdapterStatus::pending:
      return Wanted::ignore;
  }
  return Wanted::ignore;
}

}  // namespace loraplane::distribute
