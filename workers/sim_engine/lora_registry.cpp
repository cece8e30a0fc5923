#include "workers/sim_engine/lora_registry.hpp"

namespace loraplane::sim_engine {

const AdapterRecord* LoraRegistry::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &records_[it->second];
}

const AdapterRecord& LoraRegistry::put(const std::string& name, const std::string& path,
                                       std::uint64_t bytes, int rank) {
  if (auto it = index_.find(name); it != index_.end()) {
    auto& record = records_[it->second];
    record.path = path;
    record.bytes = bytes;
    record.rank = rank;
    return record;
  }
  records_.push_back(AdapterRecord{next_id_++, name, path, bytes, rank});
  index_.emplace(name, records_.size() - 1);
  return records_.back();
}

std::optional<AdapterRecord> LoraRegistry::remove(std::string_view name) {
  auto it = index_.find(std::string(name));
  if (it == index_.end()) return std::nullopt;
  AdapterRecord record = std::move(records_[it->second]);
  records_.erase(records_.begin() + static_cast<std::ptrdiff_t>(it->second));
  reindex();
  return record;
}

void LoraRegistry::reindex() {
  index_.clear();
  for (std::size_t i = 0; i < records_.size(); ++i) index_.emplace(records_[i].name, i);
}

awaitable<LoraRegistry::NameLock> LoraRegistry::lock(std::string name) {
  while (locked_.count(name) != 0) co_await lock_waiters_.wait();
  locked_.insert(name);
  co_return NameLock(this, std::move(name));
}

LoraRegistry::NameLock::~NameLock() {
  if (!registry_) return;
  registry_->locked_.erase(name_);
  registry_->lock_waiters_.notify_all();
}

}  // namespace loraplane::sim_engine
