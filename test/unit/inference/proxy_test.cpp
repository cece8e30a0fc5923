// Non-streamed inference through the gateway: model resolution and its errors, the router's
// ensure and retry, /v1/models and the fleet view.
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <future>
#include <sstream>
#include <string>

#include "common/log.hpp"
#include "test/unit/inference/stack.hpp"

namespace it = loraplane::inference_test;
namespace json = boost::json;
using loraplane::schema::AdapterStatus;

namespace {

std::string error_code_of(const loraplane::test::HttpResult& r) {
  auto o = it::parse_object(r.body);
  BOOST_REQUIRE(o.contains("error"));
  auto& code = o["error"].as_object()["code"];
  return code.is_string() ? std::string(code.as_string()) : std::string();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(proxy)

BOOST_AUTO_TEST_CASE(chat_and_completion_answer_with_the_model_the_caller_sent) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto id = s.add_adapter(acme, "support-v3");
  s.load_in_engine(id);
  s.publish_residency({id});
  const std::string model = it::kBase + ":support-v3";

  auto chat = s.post(acme, "/v1/chat/completions", it::chat_body(model));
  BOOST_TEST_REQUIRE(chat.status == 200, chat.body);
  auto o = it::parse_object(chat.body);
  BOOST_TEST(o["model"].as_string() == model);
  BOOST_TEST(o["object"].as_string() == "chat.completion");
  BOOST_TEST(chat.body.find(id) == std::string::npos);  // the adapter id never shows
  BOOST_TEST(!o["choices"].as_array().empty());

  auto completion = s.post(acme, "/v1/completions", it::completion_body(model));
  BOOST_TEST_REQUIRE(completion.status == 200, completion.body);
  BOOST_TEST(it::parse_object(completion.body)["model"].as_string() == model);
  BOOST_TEST(s.ensured().empty());  // resident on the GPU: no ensure

  auto base = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase));
  BOOST_TEST_REQUIRE(base.status == 200, base.body);
  BOOST_TEST(it::parse_object(base.body)["model"].as_string() == it::kBase);
}

BOOST_AUTO_TEST_CASE(only_the_model_field_changes) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  s.add_adapter(acme, "a1");
  s.publish_residency({});
  // The engine echoes nothing of the request, so compare the engine's own answer for the same
  // seed and prompt: everything but "model" and the per-response id/created must match.
  auto via_gateway = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":a1"));
  BOOST_TEST_REQUIRE(via_gateway.status == 200, via_gateway.body);
  auto direct =
      s.engine().post("/v1/chat/completions", it::chat_body(it::kBase + ":" + s.ensured().at(0)));
  BOOST_TEST_REQUIRE(direct.status == 200, direct.body);
  auto g = it::parse_object(via_gateway.body);
  auto d = it::parse_object(direct.body);
  for (auto* key : {"id", "created", "model"}) {
    g.erase(key);
    d.erase(key);
  }
  BOOST_TEST(json::serialize(g) == json::serialize(d));
}

BOOST_AUTO_TEST_CASE(another_tenants_adapter_is_as_missing_as_a_missing_one) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto globex = s.create_tenant("globex");
  auto id = s.add_adapter(globex, "secret");
  s.load_in_engine(id);
  s.publish_residency({id});
  auto theirs = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":secret"));
  auto missing = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":nothing"));
  BOOST_TEST(theirs.status == 404);
  BOOST_TEST(missing.status == 404);
  BOOST_TEST(error_code_of(theirs) == "model_not_found");
  // Same words apart from the name the caller sent.
  auto strip = [](std::string body, const std::string& name) {
    return body.replace(body.find(name), name.size(), "X");
  };
  BOOST_TEST(strip(theirs.body, "secret") == strip(missing.body, "nothing"));
  // Unknown base and an empty adapter name get the same answer too.
  auto no_base = s.post(acme, "/v1/chat/completions", it::chat_body("gpt-17:secret"));
  BOOST_TEST(no_base.status == 404);
  BOOST_TEST(error_code_of(no_base) == "model_not_found");
  BOOST_TEST(s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":")).status == 404);
  // And the owner can use it.
  auto own = s.post(globex, "/v1/chat/completions", it::chat_body(it::kBase + ":secret"));
  BOOST_TEST(own.status == 200, own.body);
}

BOOST_AUTO_TEST_CASE(an_adapter_not_ready_yet_is_a_conflict) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  s.add_adapter(acme, "new-one", AdapterStatus::validating);
  s.publish_residency({});
  auto r = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":new-one"));
  BOOST_TEST(r.status == 409);
  BOOST_TEST(error_code_of(r) == "adapter_not_ready");
  BOOST_TEST(s.ensured().empty());
}

BOOST_AUTO_TEST_CASE(an_empty_pool_answers_503_with_retry_after) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  s.add_adapter(acme, "a1");
  auto r = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":a1"));
  BOOST_TEST(r.status == 503);
  BOOST_TEST(r.headers.count("retry-after") == 1u);
  // A base with no engine at all, bare.
  auto other = s.post(acme, "/v1/completions", it::completion_body("llama-3.1-70b-instruct"));
  BOOST_TEST(other.status == 503);
  BOOST_TEST(other.headers.count("retry-after") == 1u);
}

BOOST_AUTO_TEST_CASE(a_miss_asks_the_agent_to_ensure_first) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto id = s.add_adapter(acme, "cold");
  s.publish_residency({});  // engine up, adapter nowhere
  auto r = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":cold"));
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(s.ensured() == std::vector<std::string>{id});
}

BOOST_AUTO_TEST_CASE(a_miss_tells_the_agent_what_to_evict_first) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto busy = s.add_adapter(acme, "busy");
  auto idle = s.add_adapter(acme, "idle");
  auto cold = s.add_adapter(acme, "cold");
  s.load_in_engine(busy);
  s.load_in_engine(idle);
  s.publish_residency({idle, busy}, /*free_slots=*/0);  // the agent used idle last
  for (int i = 0; i < 2; ++i) {
    auto hit = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":busy"));
    BOOST_TEST_REQUIRE(hit.status == 200, hit.body);
  }
  auto r = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":cold"));
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(s.ensured() == std::vector<std::string>{cold});
  // The gateway sent idle nothing and busy two requests: idle is named first.
  const std::vector<std::string> want = {idle, busy};
  BOOST_TEST(s.evict_orders().at(0) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_just_evicted_adapter_is_ensured_and_retried_once) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto id = s.add_adapter(acme, "evicted");
  auto other = s.add_adapter(acme, "other");
  s.load_in_engine(other);
  // The residency still says GPU, but the engine no longer has it: its 404 triggers an ensure
  // and one more try. The ensure names what to evict, as for any miss.
  s.publish_residency({id, other}, /*free_slots=*/0);
  auto r = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":evicted"));
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(it::parse_object(r.body)["model"].as_string() == it::kBase + ":evicted");
  BOOST_TEST(s.ensured() == std::vector<std::string>{id});
  BOOST_TEST_REQUIRE(s.evict_orders().size() == 1u);
  BOOST_TEST(s.evict_orders().at(0) == std::vector<std::string>{other},
             boost::test_tools::per_element());
}

// Two records list the adapter on the GPU, and neither engine still has it (both stale). The
// one retry goes to the other engine with an ensure, so the request is still served.
BOOST_AUTO_TEST_CASE(the_retry_after_an_eviction_ensures_even_on_another_listed_holder) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto id = s.add_adapter(acme, "stale");
  s.publish_residency({id}, 4, "engine-0");
  s.publish_residency({id}, 4, "engine-1");  // the same simulated engine behind both records
  auto r = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":stale"));
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(it::parse_object(r.body)["model"].as_string() == it::kBase + ":stale");
  BOOST_TEST(s.ensured() == std::vector<std::string>{id});
}

// The retry after an eviction meets a 404 again (the adapter went once more between the
// ensure and the request): the caller gets a 503 to retry, not the engine's 404, whose message
// names the adapter by its internal id.
BOOST_AUTO_TEST_CASE(a_second_404_after_the_ensure_is_a_503_in_the_callers_terms) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto id = s.add_adapter(acme, "flaky");
  s.agent_answers_without_loading(id);
  s.publish_residency({id});
  auto r = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":flaky"));
  BOOST_TEST(r.status == 503, r.body);
  BOOST_TEST(r.headers.count("retry-after") == 1u);
  BOOST_TEST(r.body.find(it::kBase + ":flaky") != std::string::npos, r.body);
  BOOST_TEST(r.body.find(id) == std::string::npos, r.body);
  BOOST_TEST(s.ensured() == std::vector<std::string>{id});
  // Once the engine does have it, the next request is served.
  s.load_in_engine(id);
  auto ok = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":flaky"));
  BOOST_TEST(ok.status == 200, ok.body);
}

BOOST_AUTO_TEST_CASE(an_unreachable_engine_is_retried_on_another) {
  // The gateway's warning about the dead engine, captured with the text layout. The sink is
  // added before the stack's threads start and removed after they end.
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  sink->set_formatter(loraplane::logging::text_formatter());
  spdlog::default_logger()->sinks().push_back(sink);
  std::string request_id;
  {
    it::Stack s;
    auto acme = s.create_tenant("acme");
    auto id = s.add_adapter(acme, "a1");
    s.load_in_engine(id);
    // A dead engine that looks best (adapter on its GPU) and the live one without the adapter.
    s.publish_residency({id}, 4, "engine-dead", "http://127.0.0.1:1");
    s.publish_residency({}, 4, "engine-0");
    auto r = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":a1"));
    BOOST_TEST_REQUIRE(r.status == 200, r.body);
    BOOST_TEST(s.ensured() == std::vector<std::string>{id});
    request_id = r.headers["x-request-id"];
  }
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::find(sinks.begin(), sinks.end(), sink));
  // The warning names the engine and carries the request's id, so it can be found from a
  // client's report.
  BOOST_TEST_REQUIRE(!request_id.empty());
  std::istringstream lines(captured.str());
  std::string line, warning;
  while (std::getline(lines, line))
    if (line.find("engine engine-dead:") != std::string::npos) warning = line;
  BOOST_TEST_REQUIRE(!warning.empty(), captured.str());
  BOOST_TEST(warning.find("[rid=" + request_id + "]") != std::string::npos, warning);
}

BOOST_AUTO_TEST_CASE(an_agent_that_does_not_know_the_adapter_yet_means_retry_later) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto id = s.add_adapter(acme, "fresh");
  s.agent_does_not_know(id);
  s.publish_residency({});
  auto r = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":fresh"));
  BOOST_TEST(r.status == 503);
  BOOST_TEST(r.headers.count("retry-after") == 1u);
}

// Deleted between the gateway's lookup and the agent's ensure: the agent no longer knows it,
// and the caller hears that the model does not exist (not "being distributed, retry").
BOOST_AUTO_TEST_CASE(an_adapter_deleted_while_its_ensure_runs_is_not_found) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto id = s.add_adapter(acme, "short-lived");
  s.publish_residency({});
  s.agent_does_not_know(id);  // as the agent answers once it has read the deletion
  int deleted = 0;
  s.on_ensure([&] {
    deleted = loraplane::test::http_request(s.port(), "DELETE", "/v1/adapters/" + id, {},
                                            it::bearer(acme.key))
                  .status;
  });
  auto r = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":short-lived"));
  BOOST_TEST(deleted == 200);
  BOOST_TEST(r.status == 404, r.body);
  BOOST_TEST(it::parse_object(r.body)["error"].as_object()["code"].as_string() == "model_not_found");
}

BOOST_AUTO_TEST_CASE(bad_bodies_are_400) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  s.publish_residency({});
  auto no_model = s.post(acme, "/v1/chat/completions", R"({"messages":[]})");
  BOOST_TEST(no_model.status == 400);
  BOOST_TEST(it::parse_object(no_model.body)["error"].as_object()["param"].as_string() == "model");
  BOOST_TEST(s.post(acme, "/v1/chat/completions", "{not json").status == 400);
  BOOST_TEST(s.post(acme, "/v1/chat/completions", R"([1,2])").status == 400);
  BOOST_TEST(
      s.post(acme, "/v1/chat/completions", R"({"model":"toy-llama","stream":"yes","messages":[]})")
          .status == 400);
  BOOST_TEST(s.post(acme, "/v1/chat/completions", R"({"model":"a","model":"b"})").status == 400);
  auto no_key = loraplane::test::http_request(s.port(), "POST", "/v1/chat/completions",
                                              it::chat_body(it::kBase));
  BOOST_TEST(no_key.status == 401);
  std::string huge = R"({"model":"toy-llama","prompt":")" + std::string(5 << 20, 'a') + "\"}";
  BOOST_TEST(s.post(acme, "/v1/completions", huge).status == 413);
}

BOOST_AUTO_TEST_CASE(embeddings_refuse_adapters_and_chat_refuses_embedding_bases) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  s.add_adapter(acme, "a1");
  auto with_adapter = s.post(acme, "/v1/embeddings", R"({"model":"bge-m3:a1","input":"hi"})");
  BOOST_TEST(with_adapter.status == 400);
  BOOST_TEST(error_code_of(with_adapter) == "adapter_not_supported");
  auto chat_base = s.post(acme, "/v1/embeddings", R"({"model":"toy-llama","input":"hi"})");
  BOOST_TEST(chat_base.status == 400);
  auto embed_chat = s.post(acme, "/v1/chat/completions", it::chat_body("bge-m3"));
  BOOST_TEST(embed_chat.status == 400);
  // A bare embedding base is routed; here its pool is empty.
  auto bare = s.post(acme, "/v1/embeddings", R"({"model":"bge-m3","input":"hi"})");
  BOOST_TEST(bare.status == 503);
}

BOOST_AUTO_TEST_CASE(models_lists_the_tenants_ready_adapters) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto globex = s.create_tenant("globex");
  s.add_adapter(acme, "ready-one");
  s.add_adapter(acme, "pending-one", AdapterStatus::validating);
  s.add_adapter(globex, "theirs");
  auto r = s.get(acme.key, "/v1/models");
  BOOST_TEST_REQUIRE(r.status == 200);
  std::map<std::string, json::object> by_id;
  auto list = it::parse_object(r.body);
  for (auto& m : list["data"].as_array())
    by_id[std::string(m.as_object().at("id").as_string())] = m.as_object();
  BOOST_TEST(by_id.count(it::kBase) == 1u);
  BOOST_TEST_REQUIRE(by_id.count(it::kBase + ":ready-one") == 1u);
  auto& adapter = by_id[it::kBase + ":ready-one"];
  BOOST_TEST(adapter["owned_by"].as_string() == acme.id);
  BOOST_TEST(adapter["parent"].as_string() == it::kBase);
  BOOST_TEST(by_id.count(it::kBase + ":pending-one") == 0u);
  BOOST_TEST(by_id.count(it::kBase + ":theirs") == 0u);
}

BOOST_AUTO_TEST_CASE(fleet_view_shows_what_the_router_sees) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto id = s.add_adapter(acme, "a1");
  s.publish_residency({id}, 3);
  BOOST_TEST(s.get(acme.key, "/admin/v1/engines").status == 401);
  auto r = s.get(it::kAdminToken, "/admin/v1/engines");
  BOOST_TEST_REQUIRE(r.status == 200);
  auto data = it::parse_object(r.body)["data"].as_array();
  BOOST_TEST_REQUIRE(data.size() == 1u);
  auto& e = data[0].as_object();
  BOOST_TEST(e["id"].as_string() == "engine-0");
  BOOST_TEST(e["base_model"].as_string() == it::kBase);
  BOOST_TEST(e["url"].as_string() == s.engine_url());
  BOOST_TEST(e["healthy"].as_bool());
  BOOST_TEST(e["gpu"].as_array().at(0).as_string() == it::kBase + ":" + id);
  BOOST_TEST(e["free_slots"].as_int64() == 3);
  BOOST_TEST(e["heartbeat_age_ms"].as_int64() >= 0);
}

// An ensure that failed leaves no "loading" mark behind: the engine does not hold the adapter,
// and the next request must not be sent there first as if it did.
BOOST_AUTO_TEST_CASE(a_failed_ensure_leaves_no_loading_mark) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto id = s.add_adapter(acme, "unloadable");
  s.publish_residency({});
  s.agent_fails(id);
  auto r = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":unloadable"));
  BOOST_TEST(r.status == 503, r.body);
  BOOST_TEST(s.ensured() == std::vector<std::string>{id});
  auto fleet = it::parse_object(s.get(it::kAdminToken, "/admin/v1/engines").body)["data"].as_array();
  BOOST_TEST_REQUIRE(fleet.size() == 1u);
  BOOST_TEST(fleet[0].as_object()["loading"].as_array().empty(), boost::json::serialize(fleet[0]));
}

// An agent that does not answer its ensure (wedged, or a load that hangs) costs the caller the
// gateway's ensure timeout, then a 503 to retry, not the 600 s an engine's answer may take.
BOOST_AUTO_TEST_CASE(an_ensure_the_agent_never_answers_ends_at_the_ensure_timeout) {
  it::Stack s(loraplane::sim_engine::test::test_options(),
              [](loraplane::gateway::GatewayOptions& o) {
                o.upstream.ensure_timeout = std::chrono::seconds(1);
              });
  auto acme = s.create_tenant("acme");
  auto id = s.add_adapter(acme, "stuck");
  s.publish_residency({});
  std::promise<void> release;
  auto released = release.get_future().share();
  s.on_ensure([released] { released.wait_for(std::chrono::seconds(60)); });
  auto r = s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":stuck"));
  release.set_value();  // the agent answers only now, long after the caller had its answer
  BOOST_TEST(r.status == 503, r.body);
  BOOST_TEST(r.headers.count("retry-after") == 1u);
  BOOST_TEST(it::parse_object(r.body)["error"].as_object()["message"].as_string().find(
                 it::kBase + ":stuck") != std::string::npos, r.body);
  auto metrics = loraplane::test::http_request(s.port(), "GET", "/metrics").body;
  BOOST_TEST(metrics.find("loraplane_upstream_errors_total{kind=\"timeout\",target=\"agent\"} 1") !=
                 std::string::npos);
}

BOOST_AUTO_TEST_CASE(router_metrics_count_decisions) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  s.add_adapter(acme, "a1");
  s.publish_residency({});
  BOOST_TEST_REQUIRE(
      s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":a1")).status == 200);
  auto metrics = loraplane::test::http_request(s.port(), "GET", "/metrics").body;
  BOOST_TEST(metrics.find("loraplane_router_decisions_total{outcome=\"miss\"}") !=
             std::string::npos);
  BOOST_TEST(metrics.find("loraplane_upstream_latency_seconds_bucket{target=\"engine\"") !=
             std::string::npos);
}

namespace {

// The value of one sample line `series value` in Prometheus text, 0 when absent.
double sample(const std::string& metrics, const std::string& series) {
  auto at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stod(metrics.substr(at + series.size() + 2));
}

}  // namespace

BOOST_AUTO_TEST_CASE(request_metrics_count_each_request_by_tenant_api_route_and_code) {
  it::Stack s;
  auto acme = s.create_tenant("metered");
  s.add_adapter(acme, "a1");
  s.publish_residency({});
  const std::string model = it::kBase + ":a1";
  const std::string chat =
      "loraplane_tenant_requests_total{api=\"chat\",tenant=\"" + acme.id + "\"}";
  const std::string completion =
      "loraplane_tenant_requests_total{api=\"completion\",tenant=\"" + acme.id + "\"}";
  const std::string chat_ok =
      "loraplane_http_requests_total{code=\"200\",method=\"POST\",role=\"gateway\",route=\"/v1/"
      "chat/completions\"}";
  const std::string chat_404 =
      "loraplane_http_requests_total{code=\"404\",method=\"POST\",role=\"gateway\",route=\"/v1/"
      "chat/completions\"}";
  auto before = loraplane::test::http_request(s.port(), "GET", "/metrics").body;
  for (int i = 0; i < 3; ++i)
    BOOST_TEST_REQUIRE(s.post(acme, "/v1/chat/completions", it::chat_body(model)).status == 200);
  BOOST_TEST_REQUIRE(s.post(acme, "/v1/completions", it::completion_body(model)).status == 200);
  BOOST_TEST_REQUIRE(
      s.post(acme, "/v1/chat/completions", it::chat_body(it::kBase + ":nope")).status == 404);
  auto after = loraplane::test::http_request(s.port(), "GET", "/metrics").body;
  BOOST_TEST(sample(after, chat) - sample(before, chat) == 4.0);  // the 404 is counted too
  BOOST_TEST(sample(after, completion) - sample(before, completion) == 1.0);
  BOOST_TEST(sample(after, chat_ok) - sample(before, chat_ok) == 3.0);
  BOOST_TEST(sample(after, chat_404) - sample(before, chat_404) == 1.0);
}

BOOST_AUTO_TEST_SUITE_END()
