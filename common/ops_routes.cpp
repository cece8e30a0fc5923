#include "common/ops_routes.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "common/health.hpp"
#include "common/metrics.hpp"

namespace loraplane::http {

namespace {

awaitable<Response> healthz(RequestContext&) {
  boost::json::object roles;
  for (const auto& [role, ready] : health::roles()) roles[role] = ready ? "ready" : "starting";
  bool ok = health::all_ready();
  boost::json::object body;
  body["status"] = ok ? "ok" : "starting";
  body["roles"] = std::move(roles);
  co_return json_response(ok ? Status::ok : Status::service_unavailable,
                          boost::json::serialize(body));
}

awaitable<Response> metrics_text(RequestContext&) {
  co_return text_response(Status::ok, metrics::serialize(), "text/plain; version=0.0.4");
}

}  // namespace

void add_ops_routes(Router& router) {
  router.add(Verb::get, "/healthz", healthz);
  router.add(Verb::get, "/metrics", metrics_text);
}

}  // namespace loraplane::http
