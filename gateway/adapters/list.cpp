#include <charconv>

#include "gateway/adapters/handlers.hpp"
#include "gateway/errors.hpp"
#include "schema/json.hpp"

namespace loraplane::gateway::adapters {

namespace {
constexpr std::size_t kDefaultLimit = 20;
constexpr std::size_t kMaxLimit = 100;
}  // namespace

awaitable<http::Response> list(GatewayContext& ctx, http::RequestContext& rc) {
  auto tenant = ctx.authenticate(rc.request);
  if (!tenant) co_return errors::invalid_api_key(rc.request);
  std::size_t limit = kDefaultLimit;
  if (auto text = rc.query("limit")) {
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (ec != std::errc() || end != text->data() + text->size() || limit < 1 || limit > kMaxLimit)
      co_return errors::invalid_request("limit: must be an integer from 1 to 100", "limit");
  }
  std::string after = rc.query("after").value_or("");
  if (!after.empty() && !schema::valid_adapter_id(after))
    co_return errors::invalid_request("after: must be an adapter id (adp_...)", "after");
  bool has_more = false;
  schema::AdapterList body;
  for (auto& state : ctx.adapters.list(tenant->id, limit, after, has_more))
    body.data.push_back(std::move(state.adapter));
  body.has_more = has_more;
  co_return http::json_response(http::Status::ok, schema::to_json(body));
}

}  // namespace loraplane::gateway::adapters
