// The gateway's own metrics beyond HTTP (common/http_server) and routing (gateway/router):
// uploads, imports and per-tenant inference requests. Tenant labels are bounded: the first
// kMaxTenantLabels tenants seen keep their id, later ones count under tenant="_other", so a
// platform with thousands of tenants cannot blow up the series count.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loraplane::gateway {

inline constexpr std::size_t kMaxTenantLabels = 200;

// outcome: accepted | rejected | failed (the store was unavailable) | throttled (upload slots
// full) | unavailable (Kafka unreachable, refused at once)
void count_upload(std::string_view outcome, std::uint64_t bytes, double seconds);
void count_import(std::string_view outcome);
// api: chat | completion | embedding
void count_tenant_request(const std::string& tenant_id, std::string_view api);

}  // namespace loraplane::gateway
