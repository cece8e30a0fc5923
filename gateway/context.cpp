#include "gateway/context.hpp"

#include "common/sha256.hpp"
#include "gateway/errors.hpp"

namespace loraplane::gateway {

std::optional<http::Response> GatewayContext::require_admin(
    const http::RequestHeader& request) const {
  auto token = http::bearer_token(request);
  // Compare hashes so the comparison takes the same time whatever the presented length.
  if (admin_token_sha256.empty() || token.empty() ||
      !constant_time_equal(sha256_hex(token), admin_token_sha256))
    return errors::admin_unauthorized();
  return std::nullopt;
}

std::optional<schema::TenantRecord> GatewayContext::authenticate(
    const http::RequestHeader& request) const {
  auto token = http::bearer_token(request);
  if (token.empty()) return std::nullopt;
  return tenants.authenticate(token);
}

}  // namespace loraplane::gateway
