// `loraplane up` / `loraplane gateway` as a user runs them: the real binary on a free port,
// checked through HTTP only. Embedded mode always; the two-gateway checks need a real broker
// (LORAPLANE_KAFKA, started by ops/test).
#define BOOST_TEST_MODULE up
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <signal.h>

#include <cstdlib>
#include <thread>

#include "test/integration/up/up_support.hpp"

using namespace loraplane::test::up;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(healthz_and_metrics_once_ready) {
  Running up;
  auto health = lt::http_request(up.port, "GET", "/healthz");
  BOOST_TEST(health.status == 200);
  auto body = parse_object(health.body);
  BOOST_TEST(body["status"].as_string() == "ok");
  BOOST_TEST(body["roles"].as_object()["gateway"].as_string() == "ready");

  auto metrics = lt::http_request(up.port, "GET", "/metrics");
  BOOST_TEST(metrics.status == 200);
  BOOST_TEST(metrics.body.find("loraplane_http_requests_total{") != std::string::npos);
  BOOST_TEST(metrics.body.find("route=\"/healthz\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(admin_api_needs_the_admin_token) {
  Running up;
  std::string body = R"({"name":"acme","tier":"shared"})";
  auto none = lt::http_request(up.port, "POST", "/admin/v1/tenants", body);
  BOOST_TEST(none.status == 401);
  BOOST_TEST(error_code_of(none) == "invalid_admin_token");
  auto wrong = lt::http_request(up.port, "POST", "/admin/v1/tenants", body, bearer("nope"));
  BOOST_TEST(wrong.status == 401);
  // A bad body names the field at fault in `param`.
  auto bad = lt::http_request(up.port, "POST", "/admin/v1/tenants", R"({"name":"acme","tier":"gold"})",
                              bearer(kAdminToken));
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(parse_object(bad.body)["error"].as_object()["param"] == "tier", bad.body);
  // A tenant API key is not an admin token either.
  auto tenant = create_tenant(up.port, "acme", "shared");
  auto as_tenant = lt::http_request(up.port, "POST", "/admin/v1/tenants",
                                    R"({"name":"other"})",
                                    bearer(std::string(tenant["api_key"].as_string())));
  BOOST_TEST(as_tenant.status == 401);
}

BOOST_AUTO_TEST_CASE(create_tenant_returns_a_working_key) {
  Running up;
  auto tenant = create_tenant(up.port, "acme-prod", "reserved");
  BOOST_TEST(tenant["name"].as_string() == "acme-prod");
  BOOST_TEST(tenant["tier"].as_string() == "reserved");
  std::string key(tenant["api_key"].as_string());
  BOOST_TEST(key.starts_with("pk-prov-"));
  BOOST_TEST(key.size() >= 40u);

  auto models = lt::http_request(up.port, "GET", "/v1/models", {}, bearer(key));
  BOOST_TEST_REQUIRE(models.status == 200);
  auto list = parse_object(models.body);
  BOOST_TEST(list["object"].as_string() == "list");
  bool has_8b = false;
  for (auto& m : list["data"].as_array())
    has_8b = has_8b || m.as_object()["id"].as_string() == "llama-3.1-8b-instruct";
  BOOST_TEST(has_8b);

  auto forged = key;
  forged.back() = forged.back() == 'a' ? 'b' : 'a';  // same prefix, wrong secret
  auto wrong = lt::http_request(up.port, "GET", "/v1/models", {}, bearer(forged));
  BOOST_TEST(wrong.status == 401);
  BOOST_TEST(wrong.body.find("Incorrect API key") != std::string::npos, wrong.body);
  // No key at all is named as missing, not as incorrect.
  auto missing = lt::http_request(up.port, "GET", "/v1/models");
  BOOST_TEST(missing.status == 401);
  BOOST_TEST(error_code_of(missing) == "invalid_api_key");
  BOOST_TEST(missing.body.find("didn't provide an API key") != std::string::npos, missing.body);
}

BOOST_AUTO_TEST_CASE(bad_tenant_requests_get_clear_errors) {
  Running up;
  auto post = [&](const std::string& body) {
    return lt::http_request(up.port, "POST", "/admin/v1/tenants", body, bearer(kAdminToken));
  };
  auto bad_name = post(R"({"name":"has space","tier":"shared"})");
  BOOST_TEST(bad_name.status == 400);
  BOOST_TEST(bad_name.body.find("name") != std::string::npos);
  auto bad_tier = post(R"({"name":"ok","tier":"gold"})");
  BOOST_TEST(bad_tier.status == 400);
  BOOST_TEST(bad_tier.body.find("tier") != std::string::npos);
  auto not_json = post("{not json");
  BOOST_TEST(not_json.status == 400);
  create_tenant(up.port, "dup", "shared");
  auto dup = post(R"({"name":"dup","tier":"dedicated"})");
  BOOST_TEST(dup.status == 409);
  BOOST_TEST(error_code_of(dup) == "tenant_exists");
  // The process survived all of it.
  BOOST_TEST(lt::http_request(up.port, "GET", "/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(extra_keys_and_revocation) {
  Running up;
  auto tenant = create_tenant(up.port, "acme", "dedicated");
  std::string id(tenant["id"].as_string());
  std::string first(tenant["api_key"].as_string());

  auto created = lt::http_request(up.port, "POST", "/admin/v1/tenants/" + id + "/keys", {},
                                  bearer(kAdminToken));
  BOOST_TEST_REQUIRE(created.status == 201);
  auto second_obj = parse_object(created.body);
  std::string second(second_obj["api_key"].as_string());
  std::string prefix(second_obj["prefix"].as_string());
  BOOST_TEST(second != first);
  BOOST_TEST(second.starts_with(prefix));
  BOOST_TEST(lt::http_request(up.port, "GET", "/v1/models", {}, bearer(second)).status == 200);

  auto missing = lt::http_request(up.port, "POST", "/admin/v1/tenants/ten_nope/keys", {},
                                  bearer(kAdminToken));
  BOOST_TEST(missing.status == 404);

  auto revoked = lt::http_request(up.port, "DELETE", "/admin/v1/keys/" + prefix, {},
                                  bearer(kAdminToken));
  BOOST_TEST_REQUIRE(revoked.status == 200);
  BOOST_TEST(lt::http_request(up.port, "GET", "/v1/models", {}, bearer(second)).status == 401);
  // The tenant's other key is unaffected.
  BOOST_TEST(lt::http_request(up.port, "GET", "/v1/models", {}, bearer(first)).status == 200);
  auto unknown = lt::http_request(up.port, "DELETE", "/admin/v1/keys/pk-prov-00000000", {},
                                  bearer(kAdminToken));
  BOOST_TEST(unknown.status == 404);
}

BOOST_AUTO_TEST_CASE(bounded_input_and_unknown_paths) {
  Running up({"--max-request-bytes", "65536"});
  auto unknown = lt::http_request(up.port, "GET", "/v2/nothing");
  BOOST_TEST(unknown.status == 404);
  BOOST_TEST(parse_object(unknown.body).contains("error"));
  std::string huge(100 * 1000, 'x');
  auto too_big = lt::http_request(up.port, "POST", "/admin/v1/tenants", huge, bearer(kAdminToken));
  BOOST_TEST(too_big.status == 413);
  BOOST_TEST(too_big.body.find("limit of 65536 bytes") != std::string::npos, too_big.body);
  auto long_header = lt::http_request(up.port, "GET", "/healthz", {},
                                      {{"X-Padding", std::string(32 * 1024, 'y')}});
  BOOST_TEST(long_header.status == 431);
  BOOST_TEST(lt::http_request(up.port, "GET", "/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(sigint_stops_cleanly) {
  Running up;
  BOOST_TEST(up.process->stop(SIGINT, 20s) == 0);
  BOOST_TEST(up.process->output().find("loraplane stopped") != std::string::npos);
}

// Two gateways on one real broker agree on keys through the compacted tenants topic.
BOOST_AUTO_TEST_CASE(gateways_share_tenants_and_revocations) {
  const char* kafka = std::getenv("LORAPLANE_KAFKA");
  if (!kafka || !*kafka) {
    BOOST_TEST_MESSAGE("LORAPLANE_KAFKA not set: skipping the real-broker check");
    return;
  }
  auto start = [&] {
    auto p = std::make_unique<lt::Process>(
        std::vector<std::string>{lt::loraplane_binary(), "gateway", "--port", "0", "--kafka",
                                 kafka},
        std::vector<std::string>{"LORAPLANE_ADMIN_TOKEN=" + kAdminToken});
    auto line = p->wait_for_line("loraplane ready on", 60s);
    BOOST_REQUIRE_MESSAGE(line, "gateway did not start:\n" + p->output());
    return std::make_pair(std::move(p), lt::port_from_line(*line));
  };
  auto [a, port_a] = start();
  auto [b, port_b] = start();
  std::string name = "shared-" + std::to_string(::getpid()) + "-" +
                     std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  auto tenant = create_tenant(port_a, name, "shared");
  std::string key(tenant["api_key"].as_string());

  auto until = [](auto pred) {
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < 30s) {
      if (pred()) return std::chrono::steady_clock::now() - t0;
      std::this_thread::sleep_for(20ms);
    }
    return std::chrono::steady_clock::duration::max();
  };
  auto seen = until([&, port = port_b] {
    return lt::http_request(port, "GET", "/v1/models", {}, bearer(key)).status == 200;
  });
  BOOST_TEST_REQUIRE(seen != std::chrono::steady_clock::duration::max());
  BOOST_TEST_MESSAGE("key usable on the second gateway after "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(seen).count()
                     << " ms");

  std::string prefix = key.substr(0, 16);
  auto revoked = lt::http_request(port_b, "DELETE", "/admin/v1/keys/" + prefix, {},
                                  bearer(kAdminToken));
  BOOST_TEST_REQUIRE(revoked.status == 200);
  auto refused = until([&, port = port_a] {
    return lt::http_request(port, "GET", "/v1/models", {}, bearer(key)).status == 401;
  });
  BOOST_TEST_REQUIRE(refused != std::chrono::steady_clock::duration::max());
  BOOST_TEST_MESSAGE("revocation effective on the first gateway after "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(refused).count()
                     << " ms");

  // A restarted gateway rebuilds the same view from the compacted topic.
  a->stop(SIGTERM);
  auto [c, port_c] = start();
  BOOST_TEST(lt::http_request(port_c, "GET", "/v1/models", {}, bearer(key)).status == 401);
  auto dup = lt::http_request(port_c, "POST", "/admin/v1/tenants",
                              json::serialize(json::object{{"name", name}}), bearer(kAdminToken));
  BOOST_TEST(dup.status == 409);
}


BOOST_AUTO_TEST_CASE(upload_checks_and_tenant_scoped_reads) {
  Running up;
  std::string key(create_tenant(up.port, "acme", "shared")["api_key"].as_string());
  std::string other(create_tenant(up.port, "rival", "shared")["api_key"].as_string());
  auto fields = [](std::string name, std::string base) {
    return std::vector<std::pair<std::string, std::string>>{{"name", name}, {"base_model", base}};
  };

  auto ok = upload(up.port, key, fields("my-v1", "toy-llama"), toy_adapter(8));
  BOOST_TEST_REQUIRE(ok.status == 202, ok.body);
  auto adapter = parse_object(ok.body);
  std::string id(adapter["id"].as_string());
  BOOST_TEST(id.starts_with("adp_"));
  BOOST_TEST(adapter["status"].as_string() == "pending");
  BOOST_TEST(adapter["size_bytes"].as_int64() == static_cast<std::int64_t>(toy_adapter(8).size()));

  BOOST_TEST(upload(up.port, "pk-prov-nope", fields("x", "toy-llama"), toy_adapter(8)).status == 401);
  auto bad_name = upload(up.port, key, fields("no spaces", "toy-llama"), toy_adapter(8));
  BOOST_TEST(bad_name.status == 400);
  auto unknown_base = upload(up.port, key, fields("x", "gpt-17"), toy_adapter(8));
  BOOST_TEST(unknown_base.status == 404);
  BOOST_TEST(error_code_of(unknown_base) == "model_not_found");
  auto embedding = upload(up.port, key, fields("x", "bge-m3"), toy_adapter(8));
  BOOST_TEST(embedding.status == 400);
  auto dup = upload(up.port, key, fields("my-v1", "toy-llama"), toy_adapter(8));
  BOOST_TEST(dup.status == 409);
  BOOST_TEST(error_code_of(dup) == "adapter_exists");
  // The refusal names the caller's own adapter that holds the name.
  BOOST_TEST(dup.body.find(id) != std::string::npos, dup.body);
  auto rank = upload(up.port, key, fields("big", "toy-llama"), toy_adapter(128));
  BOOST_TEST(rank.status == 422);
  auto dora = upload(up.port, key,
                     {{"name", "dora"}, {"base_model", "toy-llama"},
                      {"config", R"({"peft_type":"LORA","r":8,"use_dora":true})"}},
                     toy_adapter(8));
  BOOST_TEST(dora.status == 422);
  auto dora_error = parse_object(dora.body)["error"].as_object();
  BOOST_TEST(dora_error["message"].as_string() ==
             "adapter_config.json: use_dora: DoRA adapters are not supported");
  BOOST_TEST(dora_error["param"].as_string() == "config");
  BOOST_TEST(rank.body.find("rank 128") != std::string::npos);
  auto truncated_file = toy_adapter(8);
  truncated_file.resize(truncated_file.size() - 10);
  auto truncated = upload(up.port, key, fields("cut", "toy-llama"), truncated_file);
  BOOST_TEST(truncated.status == 422);
  BOOST_TEST(error_code_of(truncated) == "invalid_adapter");
  // Same name under another tenant is fine: names are per tenant.
  BOOST_TEST(upload(up.port, other, fields("my-v1", "toy-llama"), toy_adapter(4)).status == 202);

  auto get = lt::http_request(up.port, "GET", "/v1/adapters/" + id, {}, bearer(key));
  BOOST_TEST(get.status == 200);
  auto list = parse_object(lt::http_request(up.port, "GET", "/v1/adapters", {}, bearer(key)).body);
  BOOST_TEST(list["data"].as_array().size() == 1u);
  // The other tenant sees nothing of it, exactly as if it did not exist.
  auto foreign = lt::http_request(up.port, "GET", "/v1/adapters/" + id, {}, bearer(other));
  auto missing = lt::http_request(up.port, "GET", "/v1/adapters/adp_000000000nothing", {},
                                  bearer(other));
  BOOST_TEST(foreign.status == 404);
  BOOST_TEST(foreign.body == missing.body);
  BOOST_TEST(lt::http_request(up.port, "DELETE", "/v1/adapters/" + id, {}, bearer(other)).status ==
             404);

  auto deleted = lt::http_request(up.port, "DELETE", "/v1/adapters/" + id, {}, bearer(key));
  BOOST_TEST(deleted.status == 200);
  BOOST_TEST(parse_object(deleted.body)["deleted"].as_bool());
  BOOST_TEST(lt::http_request(up.port, "GET", "/v1/adapters/" + id, {}, bearer(key)).status == 404);
  // The name is free again at once.
  BOOST_TEST(upload(up.port, key, fields("my-v1", "toy-llama"), toy_adapter(8)).status == 202);
}

// Two uploads of one name at once on one gateway: the second is refused at once, instead of
// both getting 202 and the later failing validation while it holds the name too.
BOOST_AUTO_TEST_CASE(a_name_being_uploaded_is_refused_to_a_second_upload) {
  Running up;
  std::string key(create_tenant(up.port, "twice", "shared")["api_key"].as_string());
  const std::string boundary = "----claim-boundary";
  // 1 MiB (the worker fails its shape later): the gateway reads a body 256 KiB at a time, and
  // the first upload must have sent more than that to have its fields checked while it waits.
  const std::string file = toy_adapter(8, 65536);
  const std::string head_part =
      "--" + boundary + "\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nsame\r\n--" +
      boundary + "\r\nContent-Disposition: form-data; name=\"base_model\"\r\n\r\ntoy-llama\r\n--" +
      boundary +
      "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"adapter_model.safetensors\""
      "\r\n\r\n";
  const std::string tail_part = "\r\n--" + boundary + "--\r\n";
  const std::size_t half = file.size() / 2;
  const std::string request =
      "POST /v1/adapters/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
      "Authorization: Bearer " + key +
      "\r\nContent-Type: multipart/form-data; boundary=" + boundary + "\r\nContent-Length: " +
      std::to_string(head_part.size() + file.size() + tail_part.size()) + "\r\n\r\n" +
      head_part + file.substr(0, half);
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), up.port});
  boost::asio::write(socket, boost::asio::buffer(request));
  // The first upload is streaming (its fields, read with the header, were checked).
  for (int i = 0; i < 200; ++i) {
    auto metrics = lt::http_request(up.port, "GET", "/metrics").body;
    if (metrics.find("loraplane_gateway_uploads_in_progress 1") != std::string::npos) break;
    std::this_thread::sleep_for(25ms);
  }
  std::this_thread::sleep_for(200ms);

  const std::vector<std::pair<std::string, std::string>> same{{"name", "same"},
                                                              {"base_model", "toy-llama"}};
  auto second = upload(up.port, key, same, file);
  BOOST_TEST(second.status == 409, second.body);
  BOOST_TEST(error_code_of(second) == "adapter_exists");
  BOOST_TEST(second.body.find("being created by another request") != std::string::npos,
             second.body);

  boost::asio::write(socket, boost::asio::buffer(file.substr(half) + tail_part));
  std::string answer;
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(answer), ec);  // to EOF
  BOOST_TEST_REQUIRE(answer.starts_with("HTTP/1.1 202"), answer);
  auto listed =
      parse_object(lt::http_request(up.port, "GET", "/v1/adapters", {}, bearer(key)).body);
  BOOST_TEST(listed["data"].as_array().size() == 1u);
  // Once answered, the name is the adapter's: the refusal names it.
  auto third = upload(up.port, key, same, file);
  BOOST_TEST(third.status == 409, third.body);
  BOOST_TEST(third.body.find(std::string(listed["data"].as_array()[0].as_object()["id"].as_string())) !=
                 std::string::npos,
             third.body);
}

BOOST_AUTO_TEST_CASE(adapter_list_pages_newest_first) {
  Running up;
  std::string key(create_tenant(up.port, "pager", "shared")["api_key"].as_string());
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto r = upload(up.port, key, {{"name", "a" + std::to_string(i)}, {"base_model", "toy-llama"}},
                    toy_adapter(4));
    BOOST_TEST_REQUIRE(r.status == 202, r.body);
    ids.emplace_back(parse_object(r.body)["id"].as_string());
  }
  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 5; ++page) {
    auto r = lt::http_request(up.port, "GET",
                              "/v1/adapters?limit=2" + (after.empty() ? "" : "&after=" + after), {},
                              bearer(key));
    BOOST_TEST_REQUIRE(r.status == 200);
    auto body = parse_object(r.body);
    for (auto& a : body["data"].as_array()) seen.emplace_back(a.as_object()["id"].as_string());
    if (!body["has_more"].as_bool()) break;
    after = seen.back();
  }
  std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
  BOOST_TEST(seen == newest_first, boost::test_tools::per_element());
  BOOST_TEST(lt::http_request(up.port, "GET", "/v1/adapters?limit=0", {}, bearer(key)).status == 400);
}

BOOST_AUTO_TEST_CASE(uploads_end_ready_or_failed_through_the_pipeline) {
  Running up;
  std::string key(create_tenant(up.port, "pipeline", "shared")["api_key"].as_string());
  auto good = upload(up.port, key, {{"name", "good"}, {"base_model", "toy-llama"}}, toy_adapter(16));
  BOOST_TEST_REQUIRE(good.status == 202, good.body);
  // The 202 already says what the header says (the worker confirms it with the bytes).
  BOOST_TEST(parse_object(good.body)["rank"].as_int64() == 16);
  BOOST_TEST(json::serialize(parse_object(good.body)["target_modules"]) == R"(["q_proj"])");
  // Passes the gateway's header checks, fails the worker's shape check against toy-llama.
  auto bad = upload(up.port, key, {{"name", "bad"}, {"base_model", "toy-llama"}},
                    toy_adapter(8, 32));
  BOOST_TEST_REQUIRE(bad.status == 202, bad.body);
  BOOST_TEST(parse_object(bad.body)["rank"].as_int64() == 0);  // not a valid description
  std::string good_id(parse_object(good.body)["id"].as_string());
  std::string bad_id(parse_object(bad.body)["id"].as_string());

  auto ready = settle(up.port, key, good_id);
  BOOST_TEST(ready["status"].as_string() == "ready");
  BOOST_TEST(ready["rank"].as_int64() == 16);
  BOOST_TEST(ready["target_modules"].as_array().size() == 1u);
  auto failed = settle(up.port, key, bad_id);
  BOOST_TEST_REQUIRE(failed["status"].as_string() == "failed");
  auto& error = failed["error"].as_object();
  BOOST_TEST(error["code"].as_string() == "invalid_adapter");
  BOOST_TEST(std::string(error["message"].as_string()).find("q_proj.lora_A.weight") !=
             std::string::npos);
  // The failed adapter keeps its name until deleted, and a second try is told which to delete.
  const std::vector<std::pair<std::string, std::string>> bad_fields{{"name", "bad"},
                                                                     {"base_model", "toy-llama"}};
  auto again = upload(up.port, key, bad_fields, toy_adapter(8));
  BOOST_TEST(again.status == 409);
  std::string again_message(parse_object(again.body)["error"].as_object()["message"].as_string());
  BOOST_TEST(again_message.find(bad_id + ", failed); delete it") != std::string::npos,
             again_message);
  auto removed = lt::http_request(up.port, "DELETE", "/v1/adapters/" + bad_id, {}, bearer(key));
  BOOST_TEST(removed.status == 200);
  BOOST_TEST(upload(up.port, key, bad_fields, toy_adapter(8)).status == 202);
}
