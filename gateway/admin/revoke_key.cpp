#include <spdlog/spdlog.h>

#include "gateway/admin/handlers.hpp"
#include "gateway/errors.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway::admin {

awaitable<http::Response> revoke_key(GatewayContext& ctx, http::RequestContext& rc) {
  if (auto denied = ctx.require_admin(rc.request)) co_return std::move(*denied);
  std::string_view given = rc.param("prefix");
  if (!given.starts_with(kApiKeyPrefix) || given.size() < kApiKeyLookupChars)
    co_return errors::invalid_request(
        "key prefix must be the first 16 characters of the key (pk-prov-XXXXXXXX)", "prefix");
  auto record = ctx.tenants.api_key(given.substr(0, kApiKeyLookupChars));
  if (!record) co_return errors::not_found("key_not_found", "no such api key");

  record->revoked = true;
  auto sent = co_await kafka::produce_delivered(ctx.producer, kafka::kTenants,
                                      api_key_topic_key(record->prefix), schema::to_json(*record));
  if (!sent) {
    spdlog::warn("revoke key {}: {}", record->prefix, sent.error().message);
    co_return errors::unavailable("tenant store unavailable, try again");
  }
  ctx.tenants.put(*record, sent.value().offset);
  spdlog::info("api key {} of tenant {} revoked", record->prefix, record->tenant_id);

  schema::ApiKeyRevoked body;
  body.prefix = record->prefix;
  co_return http::json_response(http::Status::ok, schema::to_json(body));
}

}  // namespace loraplane::gateway::admin
