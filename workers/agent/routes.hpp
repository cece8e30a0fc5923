// The agent's HTTP face: POST /internal/v1/ensure (the gateway contract), GET
// /internal/v1/residency (what it would publish now), /healthz and /metrics.
#pragma once

#include <memory>

#include "common/http.hpp"
#include "schema/ensure.hpp"

namespace loraplane::agent {

class Core;

using schema::kMaxEvictOrder;
inline constexpr std::size_t kMaxEnsureBody = 2048;  // room for kMaxEvictOrder ids

http::Router make_router(std::shared_ptr<Core> core);

}  // namespace loraplane::agent
