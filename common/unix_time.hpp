// Wall-clock time since the unix epoch: seconds, as records carry it (created_at, updated_at),
// and milliseconds (heartbeats, adapter ids).
#pragma once

#include <chrono>
#include <cstdint>

namespace loraplane {

inline std::int64_t unix_now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace loraplane
