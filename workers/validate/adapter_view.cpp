#include "workers/validate/adapter_view.hpp"

#include <spdlog/spdlog.h>

#include "schema/json.hpp"

namespace loraplane::validate {

namespace {

constexpr std::string_view kTenantPrefix = "tenant/";

bool admitted(schema::AdapterStatus status) {
  return status == schema::AdapterStatus::validating || status == schema::AdapterStatus::ready ||
         status == schema::AdapterStatus::failed;
}

}  // namespace

void AdapterView::apply(std::string_view adapter_id, std::optional<std::string_view> value) {
  if (!value) {
    erase(adapter_id);
    return;
  }
  auto parsed = schema::parse<schema::AdapterState>(*value);
  if (!parsed) {
    spdlog::warn("validate: skipping malformed adapter record {}: {}", adapter_id,
                 parsed.error().message);
    return;
  }
  if (parsed->adapter.id != adapter_id) {
    spdlog::warn("validate: skipping adapter record whose id differs from its key {}", adapter_id);
    return;
  }
  put(parsed.value());
}

void AdapterView::put(const schema::AdapterState& state) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = adapters_.try_emplace(state.adapter.id);
  Entry& entry = it->second;
  if (!inserted) {
    if (entry.gone && state.seq <= entry.state.seq) return;  // older than its tombstone
    if (!entry.gone && state.seq < entry.state.seq) return;  // stale
  }
  entry.state = state;
  entry.gone = false;
  by_tenant_[state.tenant_id].insert(state.adapter.id);
  changed_.notify_all();
}

void AdapterView::erase(std::string_view adapter_id) {
  std::lock_guard lock(mutex_);
  auto it = adapters_.find(std::string(adapter_id));
  if (it == adapters_.end()) {
    adapters_[std::string(adapter_id)].gone = true;
  } else if (!it->second.gone) {
    it->second.gone = true;
    auto tenant = by_tenant_.find(it->second.state.tenant_id);
    if (tenant != by_tenant_.end()) {
      tenant->second.erase(it->first);
      if (tenant->second.empty()) by_tenant_.erase(tenant);
    }
  }
  changed_.notify_all();
}

const AdapterView::Entry* AdapterView::live(std::string_view adapter_id) const {
  auto it = adapters_.find(std::string(adapter_id));
  if (it == adapters_.end() || it->second.gone) return nullptr;
  return &it->second;
}

std::optional<schema::AdapterState> AdapterView::get(std::string_view adapter_id) const {
  std::lock_guard lock(mutex_);
  const Entry* entry = live(adapter_id);
  if (entry == nullptr) return std::nullopt;
  return entry->state;
}

std::optional<schema::AdapterState> AdapterView::wait_for(std::string_view adapter_id,
                                                          std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  const Entry* entry = nullptr;
  changed_.wait_for(lock, timeout, [&] {
    entry = live(adapter_id);
    // A tombstone is an answer too: the adapter is gone, waiting longer changes nothing.
    return closed_ || entry != nullptr || adapters_.contains(std::string(adapter_id));
  });
  if (entry == nullptr) return std::nullopt;
  return entry->state;
}

std::optional<schema::Adapter> AdapterView::name_holder(std::string_view tenant_id,
                                                        std::string_view base_model,
                                                        std::string_view name,
                                                        std::string_view except_id) const {
  std::lock_guard lock(mutex_);
  auto tenant = by_tenant_.find(std::string(tenant_id));
  if (tenant == by_tenant_.end()) return std::nullopt;
  for (const auto& id : tenant->second) {
    if (id == except_id) continue;
    const Entry* entry = live(id);
    if (entry == nullptr) continue;
    const auto& a = entry->state.adapter;
    if (admitted(a.status) && a.base_model == base_model && a.name == name) return a;
  }
  return std::nullopt;
}

int AdapterView::admitted_count(std::string_view tenant_id, std::string_view except_id) const {
  std::lock_guard lock(mutex_);
  auto tenant = by_tenant_.find(std::string(tenant_id));
  if (tenant == by_tenant_.end()) return 0;
  int count = 0;
  for (const auto& id : tenant->second) {
    if (id == except_id) continue;
    const Entry* entry = live(id);
    if (entry == nullptr) continue;
    const auto status = entry->state.adapter.status;
    if (status == schema::AdapterStatus::validating || status == schema::AdapterStatus::ready)
      ++count;
  }
  return count;
}

std::vector<schema::AdapterState> AdapterView::undeleted(std::string_view tenant_id) const {
  std::lock_guard lock(mutex_);
  std::vector<schema::AdapterState> out;
  auto tenant = by_tenant_.find(std::string(tenant_id));
  if (tenant == by_tenant_.end()) return out;
  for (const auto& id : tenant->second) {
    const Entry* entry = live(id);
    if (entry != nullptr && entry->state.tenant_id == tenant_id &&
        entry->state.adapter.status != schema::AdapterStatus::deleting)
      out.push_back(entry->state);
  }
  return out;
}

std::vector<schema::AdapterState> AdapterView::deleting(std::string_view tenant_id) const {
  std::lock_guard lock(mutex_);
  std::vector<schema::AdapterState> out;
  auto keep = [&out](const Entry& entry) {
    if (!entry.gone && entry.state.adapter.status == schema::AdapterStatus::deleting)
      out.push_back(entry.state);
  };
  if (tenant_id.empty()) {
    for (const auto& [id, entry] : adapters_) keep(entry);
    return out;
  }
  auto tenant = by_tenant_.find(std::string(tenant_id));
  if (tenant == by_tenant_.end()) return out;
  for (const auto& id : tenant->second)
    if (const Entry* entry = live(id); entry != nullptr && entry->state.tenant_id == tenant_id)
      keep(*entry);
  return out;
}

void AdapterView::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  changed_.notify_all();
}

void TenantTiers::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  changed_.notify_all();
}

std::optional<std::string> TenantTiers::apply(std::string_view topic_key,
                                              std::optional<std::string_view> value) {
  if (!topic_key.starts_with(kTenantPrefix)) return std::nullopt;
  if (!value) {
    std::lock_guard lock(mutex_);
    auto it = tenants_.find(std::string(topic_key.substr(kTenantPrefix.size())));
    if (it != tenants_.end()) it->second.tier.reset();  // a deletion is remembered
    return std::nullopt;
  }
  auto parsed = schema::parse<schema::TenantRecord>(*value);
  if (!parsed) {
    spdlog::warn("validate: skipping malformed tenant record {}: {}", topic_key,
                 parsed.error().message);
    return std::nullopt;
  }
  if (topic_key.substr(kTenantPrefix.size()) != parsed->id) {
    spdlog::warn("validate: skipping tenant record whose id differs from its key {}", topic_key);
    return std::nullopt;
  }
  put(parsed.value());
  if (!parsed->deleted) return std::nullopt;
  return std::move(parsed->id);
}

void TenantTiers::put(const schema::TenantRecord& tenant) {
  std::lock_guard lock(mutex_);
  auto& known = tenants_[tenant.id];
  known.tier = tenant.tier;
  known.deleted = known.deleted || tenant.deleted;
  changed_.notify_all();
}

bool TenantTiers::deleted(std::string_view tenant_id) const {
  std::lock_guard lock(mutex_);
  auto it = tenants_.find(std::string(tenant_id));
  return it != tenants_.end() && it->second.deleted;
}

std::vector<std::string> TenantTiers::deleted_ids() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> ids;
  for (const auto& [id, known] : tenants_)
    if (known.deleted) ids.push_back(id);
  return ids;
}

std::optional<schema::Tier> TenantTiers::wait_for(std::string_view tenant_id,
                                                  std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  std::optional<schema::Tier> tier;
  changed_.wait_for(lock, timeout, [&] {
    auto it = tenants_.find(std::string(tenant_id));
    if (it != tenants_.end()) tier = it->second.tier;
    return closed_ || tier.has_value();
  });
  return tier;
}

}  // namespace loraplane::validate
