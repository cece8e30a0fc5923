// Readiness of the roles running in this process, for /healthz: 200 once every registered role
// reports ready, 503 with the list otherwise.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace loraplane::health {

void register_role(const std::string& role);  // starts as "starting"
void set_ready(const std::string& role, bool ready);
bool all_ready();
std::vector<std::pair<std::string, bool>> roles();

}  // namespace loraplane::health
