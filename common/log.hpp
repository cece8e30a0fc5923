// Process-wide logging setup (spdlog). Secrets (API keys, hf tokens) are never passed to a logger.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace loraplane {

// level: trace|debug|info|warn|error. json=true writes one JSON object per line.
void init_logging(const std::string& level, bool json);

}  // namespace loraplane
