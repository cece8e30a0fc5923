#include "common/health.hpp"

#include <map>
#include <mutex>

namespace loraplane::health {

namespace {
std::mutex g_mutex;
std::map<std::string, bool>& table() {
  static std::map<std::string, bool> t;
  return t;
}
}  // namespace

void register_role(const std::string& role) {
  std::lock_guard lock(g_mutex);
  table().emplace(role, false);
}

void set_ready(const std::string& role, bool ready) {
  std::lock_guard lock(g_mutex);
  table()[role] = ready;
}

bool all_ready() {
  std::lock_guard lock(g_mutex);
  if (table().empty()) return false;
  for (const auto& [role, ready] : table())
    if (!ready) return false;
  return true;
}

std::vector<std::pair<std::string, bool>> roles() {
  std::lock_guard lock(g_mutex);
  return {table().begin(), table().end()};
}

}  // namespace loraplane::health
