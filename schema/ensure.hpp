// POST /internal/v1/ensure, from the gateway to an engine's agent:
// {"adapter_id": "...", "evict_order": ["<adapter id>", ...]}. Its own header (not types.hpp,
// which nearly every file includes) because only the gateway's forwarding and the agent use it.
#pragma once

#include <cstddef>

namespace loraplane::schema {

// The most ids an ensure's evict_order may name: the agent refuses more (400), so the gateway
// sends at most this many.
inline constexpr std::size_t kMaxEvictOrder = 16;

}  // namespace loraplane::schema
