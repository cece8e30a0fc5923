// The forwarding loop of one inference request: ask the router, ensure the adapter on a miss,
// send, and retry once — on another engine when one could not be reached (or could not load),
// or after an ensure when the engine answered 404 for an adapter it had just evicted.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "common/log.hpp"
#include "common/metrics.hpp"
#include "gateway/errors.hpp"
#include "gateway/inference/model_field.hpp"
#include "gateway/inference/proxy.hpp"
#include "schema/ensure.hpp"

namespace loraplane::gateway::inference {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kAttempts = 2;
constexpr std::size_t kMaxAgentAnswer = 64 * 1024;

struct UpstreamMetrics {
  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("loraplane_upstream_latency_seconds")
          .Help(
              "Time from sending a request to an engine (target=engine) or agent ensure "
              "(target=agent) to its response header")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Counter>& errors =
      prometheus::BuildCounter()
          .Name("loraplane_upstream_errors_total")
          .Help(
              "Failed upstream calls by target and kind: connect (unreachable or dropped), io "
              "(read timeout or broken answer), timeout (an ensure past the gateway's "
              "--ensure-timeout), evicted (engine 404 for a routed adapter), ensure (agent "
              "refused or failed), status (5xx answer)")
          .Register(metrics::registry());
};

UpstreamMetrics& upstream_metrics() {
  static UpstreamMetrics m;
  return m;
}

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries b{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
      0.25,   0.5,     1,      2.5,   5,      10,    30,   60,    120};
  return b;
}

// Releases the router's in-flight count for one engine however the request ends.
class InFlight {
 public:
  InFlight(router::SharedRouter& r, std::string engine) : router_(r), engine_(std::move(engine)) {
    router_.begin_request(engine_);
  }
  ~InFlight() { router_.end_request(engine_); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  router::SharedRouter& router_;
  std::string engine_;
};

enum class EnsureResult { loaded, retry_elsewhere, unknown_adapter, client_gone };

awaitable<EnsureResult> ensure(Forward& f, Exchange& ex, const router::Decision& d) {
  auto url = parse_upstream_url(d.agent_url);
  if (!url) {
    count_upstream_error("agent", "connect");
    co_return EnsureResult::retry_elsewhere;
  }
  UpstreamCall::Request req;
  req.target = "/internal/v1/ensure";
  // The router's eviction order for that engine, as much of it as the agent takes.
  req.body = "{\"adapter_id\":" + json_quote(f.target.adapter_id) + ",\"evict_order\":[";
  const std::size_t n = std::min(d.evict_order.size(), schema::kMaxEvictOrder);
  for (std::size_t i = 0; i < n; ++i) req.body += (i ? "," : "") + json_quote(d.evict_order[i]);
  req.body += "]}";
  req.request_id = f.rc.request_id;
  auto start = Clock::now();
  // A wedged agent costs the caller this much, not the 600 s an engine's answer may take.
  const auto deadline = start + f.ctx.upstream->options().ensure_timeout;
  req.deadline = deadline;
  auto call = co_await UpstreamCall::start(*f.ctx.upstream, *url, std::move(req));
  if (ex.client_gone) co_return EnsureResult::client_gone;
  const auto error_kind = [&deadline](Errc code) {
    return code == Errc::unavailable ? "connect" : Clock::now() >= deadline ? "timeout" : "io";
  };
  if (!call) {
    count_upstream_error("agent", error_kind(call.error().code));
    logging::warn({"gateway", f.rc.request_id}, "ensure {} on {}: {}", f.target.adapter_id,
                  d.engine_id, call.error().message);
    co_return EnsureResult::retry_elsewhere;
  }
  ex.active = call->get();
  auto answer = co_await (*call)->read_all(kMaxAgentAnswer);
  ex.active = nullptr;
  if (ex.client_gone) co_return EnsureResult::client_gone;
  observe_upstream_latency("agent", std::chrono::duration<double>(Clock::now() - start).count());
  const unsigned status = (*call)->status();
  if (answer && status == 200) co_return EnsureResult::loaded;
  count_upstream_error("agent", answer ? "ensure" : error_kind(answer.error().code));
  logging::warn({"gateway", f.rc.request_id}, "ensure {} on {}: status {} {}", f.target.adapter_id,
                d.engine_id, status, answer ? *answer : answer.error().message);
  co_return status == 404 ? EnsureResult::unknown_adapter : EnsureResult::retry_elsewhere;
}

http::Response no_engine(const std::string& base) {
  return errors::unavailable("No healthy engine serves `" + base + "` right now; retry shortly.",
                             1);
}

}  // namespace

void observe_upstream_latency(std::string_view target, double seconds) {
  // The two targets' histograms, found once (a Family's Add builds a label map per call).
  static prometheus::Histogram& engine =
      upstream_metrics().latency.Add({{"target", "engine"}}, latency_buckets());
  static prometheus::Histogram& agent =
      upstream_metrics().latency.Add({{"target", "agent"}}, latency_buckets());
  if (target == "engine")
    engine.Observe(seconds);
  else if (target == "agent")
    agent.Observe(seconds);
  else
    upstream_metrics()
        .latency.Add({{"target", std::string(target)}}, latency_buckets())
        .Observe(seconds);
}

void count_upstream_error(std::string_view target, std::string_view kind) {
  upstream_metrics()
      .errors.Add({{"target", std::string(target)}, {"kind", std::string(kind)}})
      .Increment();
}

http::Response client_gone_response(http::RequestContext& rc) {
  if (rc.channel) {
    rc.channel->written = true;  // nothing more is sent on this connection
    rc.channel->reusable = false;
    rc.channel->status = 499;  // nginx's "client closed request", for the metrics
  }
  return http::text_response(http::Status::ok, "");
}

awaitable<http::Response> forward(Forward& f, Exchange& ex) {
  auto& ctx = f.ctx;
  const auto& t = f.target;
  std::string exclude;
  bool after_eviction = false;
  std::string last_failure = "no engine could serve the request";
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto d = ctx.router->route(t.base, t.adapter_id, ctx.now_ms(), exclude);
    if (d.outcome == router::Outcome::no_engine) {
      if (attempt == 0) co_return no_engine(t.base);
      break;
    }
    auto url = parse_upstream_url(d.url);
    if (!url) {
      logging::warn({"gateway", f.rc.request_id}, "engine {} has a bad url {}: {}", d.engine_id,
                    d.url, url.error().message);
      exclude = d.engine_id;
      continue;
    }
    // After an eviction the retry is the last try: an engine that still looks like a holder
    // gets an ensure too (cheap when it does hold the adapter), as its record may be as stale.
    if (!t.adapter_id.empty() && (d.needs_ensure || after_eviction)) {
      auto ensured = co_await ensure(f, ex, d);
      if (ensured == EnsureResult::client_gone) co_return client_gone_response(f.rc);
      // Deleted since the lookup (the agent read the deletion first): it does not exist.
      if (ensured == EnsureResult::unknown_adapter && !ctx.adapters.get(t.tenant_id, t.adapter_id))
        co_return errors::model_not_found(t.caller_model);
      if (ensured == EnsureResult::unknown_adapter)
        co_return errors::unavailable("The adapter `" + t.caller_model +
                                          "` is still being distributed to the engines; retry "
                                          "shortly.",
                                      1);
      if (ensured == EnsureResult::retry_elsewhere) {
        // Not there: no "loading" mark that would send the next requests to it first.
        ctx.router->evicted(d.engine_id, t.adapter_id);
        last_failure = "engine " + d.engine_id + " could not load the adapter";
        exclude = d.engine_id;
        continue;
      }
    }
    InFlight in_flight(*ctx.router, d.engine_id);
    UpstreamCall::Request req;
    req.target = std::string(engine_path(f.api));
    req.body = f.body;
    req.request_id = f.rc.request_id;
    if (auto accept = f.rc.request.find(http::beast::http::field::accept);
        accept != f.rc.request.end())
      req.accept = std::string(accept->value());
    auto start = Clock::now();
    auto call = co_await UpstreamCall::start(*ctx.upstream, *url, std::move(req));
    if (ex.client_gone) co_return client_gone_response(f.rc);
    if (!call) {
      count_upstream_error("engine", call.error().code == Errc::unavailable ? "connect" : "io");
      logging::warn({"gateway", f.rc.request_id}, "engine {}: {}", d.engine_id,
                    call.error().message);
      last_failure = "engine " + d.engine_id + " did not answer";
      if (call.error().code != Errc::unavailable)
        co_return errors::unavailable("The engine did not answer in time; retry shortly.", 1);
      exclude = d.engine_id;
      continue;
    }
    observe_upstream_latency("engine", std::chrono::duration<double>(Clock::now() - start).count());
    auto& c = **call;
    if (!t.adapter_id.empty() && c.status() == 404) {
      // The engine dropped the adapter since its last residency record: the next decision
      // sends the request to another engine holding it, or loads it (with an evict order).
      // A 404 on the last try is not relayed either: the adapter exists (the caller gets
      // the give-up 503 to retry), and the engine's message names it by its id.
      count_upstream_error("engine", "evicted");
      ex.active = &c;
      (void)co_await c.read_all(kMaxAgentAnswer);
      ex.active = nullptr;
      if (ex.client_gone) co_return client_gone_response(f.rc);
      ctx.router->evicted(d.engine_id, t.adapter_id);
      after_eviction = true;
      exclude.clear();
      last_failure = "the adapter was evicted from engine " + d.engine_id;
      continue;
    }
    if (c.status() >= 500) count_upstream_error("engine", "status");
    ex.active = &c;
    auto res = co_await relay(f, ex, c);
    ex.active = nullptr;
    co_return res;
  }
  logging::warn({"gateway", f.rc.request_id}, "{} {}: giving up after {} attempts: {}",
                engine_path(f.api), t.caller_model, kAttempts, last_failure);
  co_return errors::unavailable(
      "No engine could serve `" + t.caller_model + "` right now; retry shortly.", 1);
}

}  // namespace loraplane::gateway::inference
