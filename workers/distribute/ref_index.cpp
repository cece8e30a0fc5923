#include "workers/distribute/ref_index.hpp"

namespace loraplane::distribute {

Status RefIndex::load() {
  refs_.clear();
  return db_.scan(
      storage::Table::meta, kRefKeyPrefix, [this](std::string_view key, std::string_view value) {
        if (!key.starts_with(kRefKeyPrefix)) return false;
        refs_.emplace(std::string(key.substr(kRefKeyPrefix.size())), std::string(value));
        return true;
      });
}

std::optional<std::string> RefIndex::get(std::string_view adapter_id) const {
  auto it = refs_.find(adapter_id);
  if (it == refs_.end()) return std::nullopt;
  return it->second;
}

Status RefIndex::put(const std::string& adapter_id, const std::string& sha256) {
  if (auto it = refs_.find(adapter_id); it != refs_.end() && it->second == sha256) return {};
  auto st = db_.put(storage::Table::meta, std::string(kRefKeyPrefix) + adapter_id, sha256);
  if (st) refs_[adapter_id] = sha256;
  return st;
}

Status RefIndex::erase(const std::string& adapter_id) {
  auto st = db_.del(storage::Table::meta, std::string(kRefKeyPrefix) + adapter_id);
  if (st) refs_.erase(adapter_id);
  return st;
}

std::vector<std::string> RefIndex::adapters() const {
  std::vector<std::string> out;
  out.reserve(refs_.size());
  for (const auto& [id, sha] : refs_) out.push_back(id);
  return out;
}

}  // namespace loraplane::distribute
