// Agent routes (routes.hpp). Ensure answers 200 once the adapter is registered in the engine,
// 404 adapter_not_found for an adapter the agent does not serve, 503 + Retry-After when it
// cannot load now. Its body: {"adapter_id": "adp_…", "evict_order": ["adp_…", …]}, the second
// field optional (the gateway router's choice of what to unload first, at most
// kMaxEvictOrder ids).
#include "workers/agent/routes.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "common/ops_routes.hpp"
#include "schema/json.hpp"
#include "workers/agent/core.hpp"

namespace loraplane::agent {

namespace {

namespace json = boost::json;

constexpr std::string_view kIdShape = "adp_<1-64 of [A-Za-z0-9_-]>";

http::Response invalid(std::string_view message, std::string_view param = "adapter_id") {
  return http::error_response(http::Status::bad_request, "invalid_request_error", "invalid_request",
                              message, param);
}

awaitable<http::Response> ensure(std::shared_ptr<Core> core, std::string body,
                                 std::string request_id) {
  boost::system::error_code ec;
  auto doc = json::parse(body, ec);
  const json::value* id = nullptr;
  if (!ec && doc.is_object()) id = doc.as_object().if_contains("adapter_id");
  if (!id || !id->is_string())
    co_return invalid("body must be a JSON object with a string field adapter_id");
  const std::string adapter_id(id->as_string());
  if (!schema::valid_adapter_id(adapter_id))
    co_return invalid("adapter_id must look like " + std::string(kIdShape));
  std::vector<std::string> evict_order;
  if (const auto* order = doc.as_object().if_contains("evict_order")) {
    const auto* ids = order->if_array();
    if (!ids || ids->size() > kMaxEvictOrder)
      co_return invalid("evict_order must be an array of at most " +
                            std::to_string(kMaxEvictOrder) + " adapter ids",
                        "evict_order");
    for (const auto& v : *ids) {
      if (!v.is_string() || !schema::valid_adapter_id(v.as_string()))
        co_return invalid("evict_order must hold adapter ids (" + std::string(kIdShape) + ")",
                          "evict_order");
      evict_order.emplace_back(v.as_string());
    }
  }
  auto ensuring = core->ensure(adapter_id, std::move(request_id), std::move(evict_order));
  auto st = co_await std::move(ensuring);
  if (st) {
    json::object out{{"adapter_id", adapter_id},
                     {"lora_name", core->lora_name(adapter_id)},
                     {"state", "loaded"}};
    co_return http::json_response(http::Status::ok, json::serialize(out));
  }
  if (st.error().code == Errc::not_found)
    co_return http::error_response(http::Status::not_found, "invalid_request_error",
                                   "adapter_not_found", st.error().message, "adapter_id");
  auto res =
      http::error_response(http::Status::service_unavailable, "server_error", "adapter_unavailable",
                           "cannot load " + adapter_id + " now: " + st.error().message);
  res.set(http::beast::http::field::retry_after, "1");
  co_return res;
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): the coroutine owns its copy
awaitable<http::Response> residency(std::shared_ptr<Core> core) {
  co_return http::json_response(http::Status::ok, schema::to_json(core->residency()));
}

}  // namespace

http::Router make_router(std::shared_ptr<Core> core) {
  http::Router router;
  router.add(http::Verb::post, "/internal/v1/ensure",
             [core](http::RequestContext& rc) {
               return ensure(core, rc.request.body(), rc.request_id);
             });
  router.add(http::Verb::get, "/internal/v1/residency",
             [core](http::RequestContext&) { return residency(core); });
  http::add_ops_routes(router);
  return router;
}

}  // namespace loraplane::agent
