#include "gateway/adapter_directory.hpp"

#include <spdlog/spdlog.h>

#include <mutex>

#include "common/sha256.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway {

std::string new_adapter_id(std::int64_t now_ms) {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string time_part(9, '0');
  auto v = static_cast<std::uint64_t>(now_ms);
  for (int i = 8; i >= 0; --i) {
    time_part[static_cast<std::size_t>(i)] = kAlphabet[v % 62];
    v /= 62;
  }
  return "adp_" + time_part + random_base62(12);
}

std::string AdapterDirectory::name_key(std::string_view tenant_id, std::string_view base_model,
                                       std::string_view name) {
  std::string key;
  key.reserve(tenant_id.size() + base_model.size() + name.size() + 2);
  key.append(tenant_id).append(1, '\n').append(base_model).append(1, '\n').append(name);
  return key;
}

void AdapterDirectory::unindex(const schema::AdapterState& state) {
  if (auto tenant = by_tenant_.find(state.tenant_id); tenant != by_tenant_.end()) {
    tenant->second.erase(state.adapter.id);
    if (tenant->second.empty()) by_tenant_.erase(tenant);
  }
  auto named =
      by_name_.find(name_key(state.tenant_id, state.adapter.base_model, state.adapter.name));
  if (named != by_name_.end()) {
    named->second.erase(state.adapter.id);
    if (named->second.empty()) by_name_.erase(named);
  }
}

void AdapterDirectory::apply(std::string_view adapter_id, std::optional<std::string_view> value) {
  if (!value) {
    std::unique_lock lock(mutex_);
    auto it = adapters_.find(std::string(adapter_id));
    if (it == adapters_.end()) return;
    unindex(it->second);
    hidden_.erase(it->first);
    adapters_.erase(it);
    return;
  }
  auto parsed = schema::parse<schema::AdapterState>(*value);
  if (!parsed) {
    spdlog::warn("adapters: skipping malformed record {}: {}", adapter_id, parsed.error().message);
    return;
  }
  put(parsed.value());
}

void AdapterDirectory::put(const schema::AdapterState& state) {
  std::unique_lock lock(mutex_);
  auto& slot = adapters_[state.adapter.id];
  if (!slot.adapter.id.empty() && slot.seq > state.seq) return;  // stale
  // Out of the indexes under the old record's tenant, base and name first: a record naming
  // another tenant than the one before (loraplane never writes one, but the topic is input
  // like any other) must leave that tenant unable to find, list or count the adapter.
  if (!slot.adapter.id.empty()) unindex(slot);
  slot = state;
  by_tenant_[state.tenant_id][state.adapter.id] = &slot;
  by_name_[name_key(state.tenant_id, state.adapter.base_model, state.adapter.name)]
          [state.adapter.id] = &slot;
}

void AdapterDirectory::hide(std::string_view adapter_id) {
  std::unique_lock lock(mutex_);
  hidden_[std::string(adapter_id)] = true;
}

const schema::AdapterState* AdapterDirectory::visible(const schema::AdapterState* s) const {
  if (s->adapter.status == schema::AdapterStatus::deleting) return nullptr;
  if (!hidden_.empty() && hidden_.contains(s->adapter.id)) return nullptr;
  return s;
}

const schema::AdapterState* AdapterDirectory::find_visible(std::string_view adapter_id) const {
  auto it = adapters_.find(std::string(adapter_id));
  return it == adapters_.end() ? nullptr : visible(&it->second);
}

std::optional<schema::AdapterState> AdapterDirectory::lookup(std::string_view adapter_id) const {
  const auto* found = find_visible(adapter_id);
  if (!found) return std::nullopt;
  return *found;
}

std::optional<schema::AdapterState> AdapterDirectory::get(std::string_view tenant_id,
                                                          std::string_view adapter_id) const {
  std::shared_lock lock(mutex_);
  auto found = lookup(adapter_id);
  if (!found || found->tenant_id != tenant_id) return std::nullopt;
  return found;
}

const schema::AdapterState* AdapterDirectory::find_named(std::string_view tenant_id,
                                                         std::string_view base_model,
                                                         std::string_view name) const {
  auto named = by_name_.find(name_key(tenant_id, base_model, name));
  if (named == by_name_.end()) return nullptr;
  // Newest first. Names are unique, except that uploads of one name racing each other all get
  // their 202 and the validate worker fails the losers (adapter_exists): those failed records
  // are newer than the winner and must not hide it, so a live adapter comes before any failed
  // one of the same name.
  const schema::AdapterState* newest_failed = nullptr;
  for (const auto& [id, state] : named->second) {
    const auto* found = visible(state);
    // The key's parts are compared too: a '\n' inside one of them could make keys collide.
    if (!found || found->tenant_id != tenant_id || found->adapter.base_model != base_model ||
        found->adapter.name != name)
      continue;
    if (found->adapter.status != schema::AdapterStatus::failed) return found;
    if (!newest_failed) newest_failed = found;
  }
  return newest_failed;
}

std::optional<AdapterDirectory::Brief> AdapterDirectory::brief_by_name(
    std::string_view tenant_id, std::string_view base_model, std::string_view name) const {
  std::shared_lock lock(mutex_);
  const auto* found = find_named(tenant_id, base_model, name);
  if (!found) return std::nullopt;
  return Brief{found->adapter.id, found->adapter.status};
}

std::vector<schema::AdapterState> AdapterDirectory::list(std::string_view tenant_id,
                                                         std::size_t limit,
                                                         std::string_view after,
                                                         bool& has_more) const {
  std::vector<schema::AdapterState> out;
  has_more = false;
  std::shared_lock lock(mutex_);
  auto tenant = by_tenant_.find(std::string(tenant_id));
  if (tenant == by_tenant_.end()) return out;
  auto it = after.empty() ? tenant->second.begin() : tenant->second.upper_bound(after);
  for (; it != tenant->second.end(); ++it) {
    const auto* found = visible(it->second);
    if (!found) continue;
    if (out.size() == limit) {
      has_more = true;
      break;
    }
    out.push_back(*found);
  }
  return out;
}

int AdapterDirectory::count(std::string_view tenant_id) const {
  std::shared_lock lock(mutex_);
  auto tenant = by_tenant_.find(std::string(tenant_id));
  if (tenant == by_tenant_.end()) return 0;
  int n = 0;
  for (const auto& [id, state] : tenant->second) {
    const auto* found = visible(state);
    if (found && found->adapter.status != schema::AdapterStatus::failed) ++n;
  }
  return n;
}

std::size_t AdapterDirectory::uploads_in_flight() const {
  std::shared_lock lock(mutex_);
  std::size_t n = 0;
  for (const auto& entry : adapters_) {
    const auto& a = entry.second.adapter;
    if (a.source.type == schema::SourceType::upload &&
        (a.status == schema::AdapterStatus::pending || a.status == schema::AdapterStatus::validating))
      ++n;
  }
  return n;
}

AdapterDirectory::NameClaim::~NameClaim() {
  if (!directory_) return;
  std::lock_guard lock(directory_->claims_mutex_);
  directory_->claims_.erase(key_);
}

bool AdapterDirectory::NameClaim::take(AdapterDirectory& directory, std::string_view tenant_id,
                                       std::string_view base_model, std::string_view name) {
  if (directory_) return true;  // already held by this request
  std::string key = std::string(tenant_id) + '\n' + std::string(base_model) + '\n' +
                    std::string(name);
  std::lock_guard lock(directory.claims_mutex_);
  if (!directory.claims_.insert(key).second) return false;
  directory_ = &directory;
  key_ = std::move(key);
  return true;
}

}  // namespace loraplane::gateway
