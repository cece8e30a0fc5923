// What a user keeps across restarts of the embedded `loraplane up` (journal in the data dir),
// how a stop drains requests in flight, and the `loraplane admin` client.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>
#include <signal.h>

#include <thread>

#include "test/integration/up/up_support.hpp"

using namespace loraplane::test::up;
using namespace std::chrono_literals;

namespace {

std::string create_key(std::uint16_t port, const std::string& tenant_id) {
  auto r = lt::http_request(port, "POST", "/admin/v1/tenants/" + tenant_id + "/keys", {},
                            bearer(kAdminToken));
  BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
  return std::string(parse_object(r.body)["api_key"].as_string());
}

// `loraplane admin ...` run to completion: exit code and combined output.
std::pair<int, std::string> run_admin(std::vector<std::string> args,
                                      std::vector<std::string> env = {}) {
  std::vector<std::string> argv = {lt::loraplane_binary(), "admin"};
  argv.insert(argv.end(), args.begin(), args.end());
  lt::Process cli(argv, env);
  int code = cli.stop(0, 30s);  // signal 0 only waits for the exit
  return {code, cli.output()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(restart)

BOOST_AUTO_TEST_CASE(restart_keeps_tenants_keys_and_adapters) {
  lt::TempDir data;
  std::string key, revoked, tenant_id, adapter_id;
  {
    Running up({}, data.path());
    auto tenant = create_tenant(up.port, "keeper", "shared");
    tenant_id = std::string(tenant["id"].as_string());
    key = std::string(tenant["api_key"].as_string());
    revoked = create_key(up.port, tenant_id);
    auto gone = lt::http_request(up.port, "DELETE", "/admin/v1/keys/" + revoked.substr(0, 16), {},
                                 bearer(kAdminToken));
    BOOST_TEST_REQUIRE(gone.status == 200, gone.body);
    auto up_res = upload(up.port, key, {{"name", "kept"}, {"base_model", "toy-llama"}}, toy_adapter(8));
    BOOST_TEST_REQUIRE(up_res.status == 202, up_res.body);
    adapter_id = std::string(parse_object(up_res.body)["id"].as_string());
    BOOST_TEST_REQUIRE(settle(up.port, key, adapter_id)["status"].as_string() == "ready");
    BOOST_TEST(up.process->stop(SIGINT, 30s) == 0);
  }
  Running again({}, data.path());
  BOOST_TEST(again.process->output().find("journal: restored") != std::string::npos);
  auto got = lt::http_request(again.port, "GET", "/v1/adapters/" + adapter_id, {}, bearer(key));
  BOOST_TEST_REQUIRE(got.status == 200, got.body);
  BOOST_TEST(parse_object(got.body)["status"].as_string() == "ready");
  // The revocation survived, the name is still taken, and new keys can still be issued.
  auto denied = lt::http_request(again.port, "GET", "/v1/adapters", {}, bearer(revoked));
  BOOST_TEST(denied.status == 401);
  auto dup = upload(again.port, key, {{"name", "kept"}, {"base_model", "toy-llama"}}, toy_adapter(8));
  BOOST_TEST(dup.status == 409, dup.body);
  auto fresh = create_key(again.port, tenant_id);
  BOOST_TEST(lt::http_request(again.port, "GET", "/v1/adapters", {}, bearer(fresh)).status == 200);
}

// Killed without a chance to drain: after the restart no adapter stays pending or validating.
BOOST_AUTO_TEST_CASE(kill_9_leaves_no_adapter_stuck) {
  lt::TempDir data;
  std::string key;
  std::vector<std::string> ids;
  {
    Running up({}, data.path());
    key = std::string(create_tenant(up.port, "crashy", "shared")["api_key"].as_string());
    // The tenant must be journaled before the kill for the key to survive; a settled upload
    // shows the journal has caught up with records written before it.
    auto first = upload(up.port, key, {{"name", "first"}, {"base_model", "toy-llama"}}, toy_adapter(4));
    BOOST_TEST_REQUIRE(first.status == 202, first.body);
    ids.emplace_back(parse_object(first.body)["id"].as_string());
    BOOST_TEST_REQUIRE(settle(up.port, key, ids.back())["status"].as_string() == "ready");
    for (int i = 0; i < 4; ++i) {
      auto r = upload(up.port, key, {{"name", "n" + std::to_string(i)}, {"base_model", "toy-llama"}},
                      toy_adapter(8));
      BOOST_TEST_REQUIRE(r.status == 202, r.body);
      ids.emplace_back(parse_object(r.body)["id"].as_string());
    }
    up.process->stop(SIGKILL);
  }
  Running again({}, data.path());
  auto list = lt::http_request(again.port, "GET", "/v1/adapters?limit=100", {}, bearer(key));
  BOOST_TEST_REQUIRE(list.status == 200, list.body);
  const auto listed = parse_object(list.body);
  BOOST_TEST(listed.at("data").as_array().size() >= 1u);
  for (const auto& item : listed.at("data").as_array()) {
    std::string id(item.as_object().at("id").as_string());
    auto settled = settle(again.port, key, id);
    auto status = settled["status"].as_string();
    BOOST_TEST((status == "ready" || status == "failed"), id << " is " << status);
    if (status == "failed")
      BOOST_TEST(settled["error"].as_object()["code"].as_string() == "interrupted");
  }
  auto kept = lt::http_request(again.port, "GET", "/v1/adapters/" + ids.front(), {}, bearer(key));
  BOOST_TEST(kept.status == 200, kept.body);
}

// Killed the moment its last answer left: every change it answered survives the restart, as
// the journal has each one before its answer is sent. Uploads answered 202 are kept (ready, or
// failed `interrupted` when their job had not finished).
BOOST_AUTO_TEST_CASE(kill_9_right_after_answers_keeps_every_answered_change) {
  lt::TempDir data;
  std::string key, doomed_key, leaving_key, arrived_key, gone_id, kept_id;
  std::vector<std::string> answered;
  {
    Running up({}, data.path());
    auto tenant = create_tenant(up.port, "steady", "shared");
    key = std::string(tenant["api_key"].as_string());
    doomed_key = create_key(up.port, std::string(tenant["id"].as_string()));
    auto leaving = create_tenant(up.port, "leaving", "shared");
    leaving_key = std::string(leaving["api_key"].as_string());
    for (const std::string name : {"gone", "kept"}) {
      auto r = upload(up.port, key, {{"name", name}, {"base_model", "toy-llama"}}, toy_adapter(8));
      BOOST_TEST_REQUIRE(r.status == 202, r.body);
      std::string id(parse_object(r.body)["id"].as_string());
      BOOST_TEST_REQUIRE(settle(up.port, key, id)["status"].as_string() == "ready");
      (name == "gone" ? gone_id : kept_id) = id;
    }

    for (int i = 0; i < 2; ++i) {
      auto r = upload(up.port, key, {{"name", "late" + std::to_string(i)}, {"base_model", "toy-llama"}},
                      toy_adapter(4));
      BOOST_TEST_REQUIRE(r.status == 202, r.body);
      answered.emplace_back(parse_object(r.body)["id"].as_string());
    }
    auto removed = lt::http_request(up.port, "DELETE", "/v1/adapters/" + gone_id, {}, bearer(key));
    BOOST_TEST_REQUIRE(removed.status == 200, removed.body);
    auto revoked = lt::http_request(up.port, "DELETE", "/admin/v1/keys/" + doomed_key.substr(0, 16),
                                    {}, bearer(kAdminToken));
    BOOST_TEST_REQUIRE(revoked.status == 200, revoked.body);
    auto left = lt::http_request(up.port, "DELETE",
                                 "/admin/v1/tenants/" + std::string(leaving["id"].as_string()), {},
                                 bearer(kAdminToken));
    BOOST_TEST_REQUIRE(left.status == 200, left.body);
    arrived_key = std::string(create_tenant(up.port, "arrived", "shared")["api_key"].as_string());
    up.process->stop(SIGKILL);
  }
  Running again({}, data.path());
  auto gone = lt::http_request(again.port, "GET", "/v1/adapters/" + gone_id, {}, bearer(key));
  BOOST_TEST(gone.status == 404, "the deleted adapter came back: " << gone.body);
  BOOST_TEST(lt::http_request(again.port, "GET", "/v1/adapters", {}, bearer(doomed_key)).status == 401,
             "the revoked key works again");
  BOOST_TEST(lt::http_request(again.port, "GET", "/v1/adapters", {}, bearer(leaving_key)).status == 401,
             "the deleted tenant is back");
  BOOST_TEST(lt::http_request(again.port, "GET", "/v1/adapters", {}, bearer(arrived_key)).status == 200,
             "the created tenant is lost");
  for (const auto& id : answered) {
    auto got = lt::http_request(again.port, "GET", "/v1/adapters/" + id, {}, bearer(key));
    BOOST_TEST_REQUIRE(got.status == 200, id << " answered 202 but is lost: " << got.body);
    auto settled = settle(again.port, key, id);
    if (settled["status"].as_string() == "failed")
      BOOST_TEST(settled["error"].as_object()["code"].as_string() == "interrupted");
    else
      BOOST_TEST(settled["status"].as_string() == "ready");
  }
  auto kept = lt::http_request(again.port, "GET", "/v1/adapters/" + kept_id, {}, bearer(key));
  BOOST_TEST(kept.status == 200, kept.body);
  // The deleted adapter's name is free again.
  auto reused = upload(again.port, key, {{"name", "gone"}, {"base_model", "toy-llama"}}, toy_adapter(4));
  BOOST_TEST(reused.status == 202, reused.body);
}

// Between listening and ready, a restarted gateway has not yet read its tenants and adapters
// back: it answers 503 with Retry-After, never a wrong 401, 404 or empty list.
BOOST_AUTO_TEST_CASE(a_restart_answers_503_until_its_state_is_loaded) {
  lt::TempDir data;
  std::string key, id;
  {
    Running up({}, data.path());
    key = std::string(create_tenant(up.port, "early", "shared")["api_key"].as_string());
    auto r = upload(up.port, key, {{"name", "early-bird"}, {"base_model", "toy-llama"}}, toy_adapter(4));
    BOOST_TEST_REQUIRE(r.status == 202, r.body);
    id = std::string(parse_object(r.body)["id"].as_string());
    BOOST_TEST_REQUIRE(settle(up.port, key, id)["status"].as_string() == "ready");
    BOOST_TEST(up.process->stop(SIGINT, 30s) == 0);
  }
  lt::Process again({lt::loraplane_binary(), "up", "--port", "0", "--data-dir", data.path()},
                    {"LORAPLANE_ADMIN_TOKEN=" + kAdminToken});
  auto line = again.wait_for_line("gateway listening on", 60s);
  BOOST_TEST_REQUIRE(line.has_value(), again.output());
  const auto port = lt::port_from_line(*line);
  int refused = 0, answered = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (answered < 3 && std::chrono::steady_clock::now() < deadline) {
    auto list = lt::http_request(port, "GET", "/v1/adapters", {}, bearer(key));
    if (list.status == 503) {
      ++refused;
      BOOST_TEST(list.headers.count("retry-after") == 1u);
      BOOST_TEST(list.body.find("still loading") != std::string::npos, list.body);
      continue;
    }
    BOOST_TEST_REQUIRE(list.status == 200, "answered before the state was loaded: " << list.body);
    BOOST_TEST_REQUIRE(parse_object(list.body)["data"].as_array().size() == 1u,
                       "a partial list before the state was loaded: " << list.body);
    ++answered;
  }
  BOOST_TEST(answered == 3);
  BOOST_TEST_MESSAGE(refused << " requests refused with 503 while loading");
  BOOST_TEST(again.stop(SIGINT, 30s) == 0);
}

// SIGINT while an upload is half sent: the server stops taking connections but answers the
// upload once its body arrives, lets it finish validating, then exits 0.
BOOST_AUTO_TEST_CASE(sigint_drains_an_upload_in_flight) {
  lt::TempDir data;
  Running up({}, data.path());
  std::string key(create_tenant(up.port, "drainer", "shared")["api_key"].as_string());
  const std::string boundary = "----drain-boundary";
  const std::string file = toy_adapter(8);
  std::string head_part = "--" + boundary +
                          "\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\ndrained\r\n--" +
                          boundary +
                          "\r\nContent-Disposition: form-data; name=\"base_model\"\r\n\r\n"
                          "toy-llama\r\n--" + boundary +
                          "\r\nContent-Disposition: form-data; name=\"file\"; "
                          "filename=\"adapter_model.safetensors\"\r\n\r\n";
  std::string tail_part = "\r\n--" + boundary + "--\r\n";
  const std::size_t half = file.size() / 2;
  std::string request = "POST /v1/adapters/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Authorization: Bearer " + key + "\r\n"
                        "Content-Type: multipart/form-data; boundary=" + boundary + "\r\n"
                        "Content-Length: " +
                        std::to_string(head_part.size() + file.size() + tail_part.size()) +
                        "\r\n\r\n" + head_part + file.substr(0, half);

  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), up.port});
  boost::asio::write(socket, boost::asio::buffer(request));
  std::this_thread::sleep_for(300ms);  // let the gateway start streaming the upload
  ::kill(up.process->pid(), SIGINT);
  BOOST_TEST_REQUIRE(up.process->wait_for_line("draining", 20s).has_value(), up.process->output());
  // No new connections once draining.
  BOOST_CHECK_THROW(lt::http_request(up.port, "GET", "/healthz"), std::exception);
  std::string rest = file.substr(half) + tail_part;
  boost::asio::write(socket, boost::asio::buffer(rest));
  std::string answer;
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(answer), ec);  // to EOF
  BOOST_TEST(answer.starts_with("HTTP/1.1 202"), answer);
  BOOST_TEST(up.process->stop(0, 30s) == 0, up.process->output());
  BOOST_TEST(up.process->output().find("draining (1 connections open)") != std::string::npos);

  // The drain let the upload it answered finish validating: after a restart it is ready, not
  // `interrupted`.
  const auto body = answer.find("\r\n\r\n");
  BOOST_TEST_REQUIRE(body != std::string::npos);
  const std::string id(parse_object(answer.substr(body + 4))["id"].as_string());
  Running again({}, data.path());
  auto got = lt::http_request(again.port, "GET", "/v1/adapters/" + id, {}, bearer(key));
  BOOST_TEST_REQUIRE(got.status == 200, got.body);
  BOOST_TEST(parse_object(got.body)["status"].as_string() == "ready", got.body);
}

BOOST_AUTO_TEST_CASE(admin_cli_manages_tenants) {
  Running up;
  const std::string api = "http://127.0.0.1:" + std::to_string(up.port);
  // The token from the data dir of `up` would do; the environment wins when set.
  auto [code, out] = run_admin({"--api", api, "create-tenant", "cli-co", "--tier", "reserved"},
                               {"LORAPLANE_ADMIN_TOKEN=" + kAdminToken});
  BOOST_TEST_REQUIRE(code == 0, out);
  auto tenant = parse_object(out.substr(out.find('{')));
  BOOST_TEST(tenant["tier"].as_string() == "reserved");
  std::string key(tenant["api_key"].as_string());
  BOOST_TEST(lt::http_request(up.port, "GET", "/v1/adapters", {}, bearer(key)).status == 200);

  auto [revoke_code, revoke_out] = run_admin(
      {"--api", api, "--token", kAdminToken, "revoke-key", key.substr(0, 16)});
  BOOST_TEST(revoke_code == 0, revoke_out);
  BOOST_TEST(lt::http_request(up.port, "GET", "/v1/adapters", {}, bearer(key)).status == 401);

  auto [key_code, key_out] = run_admin(
      {"--api", api, "--token", kAdminToken, "create-key", std::string(tenant["id"].as_string())});
  BOOST_TEST_REQUIRE(key_code == 0, key_out);
  std::string second(parse_object(key_out.substr(key_out.find('{')))["api_key"].as_string());
  BOOST_TEST(lt::http_request(up.port, "GET", "/v1/adapters", {}, bearer(second)).status == 200);
  auto [delete_code, delete_out] = run_admin(
      {"--api", api, "--token", kAdminToken, "delete-tenant", std::string(tenant["id"].as_string())});
  BOOST_TEST(delete_code == 0, delete_out);
  BOOST_TEST(delete_out.find("\"tenant.deleted\"") != std::string::npos, delete_out);
  BOOST_TEST(lt::http_request(up.port, "GET", "/v1/adapters", {}, bearer(second)).status == 401);
  auto [gone_code, gone_out] =
      run_admin({"--api", api, "--token", kAdminToken, "delete-tenant", "ten_missing"});
  BOOST_TEST(gone_code == 1, gone_out);
  BOOST_TEST(gone_out.find("404") != std::string::npos, gone_out);

  auto [bad_code, bad_out] = run_admin({"--api", api, "--token", "wrong", "create-key", "ten_x"});
  BOOST_TEST(bad_code == 1, bad_out);
  BOOST_TEST(bad_out.find("401") != std::string::npos, bad_out);
  auto [down_code, down_out] =
      run_admin({"--api", "http://127.0.0.1:1", "--token", kAdminToken, "create-key", "ten_x"});
  BOOST_TEST(down_code == 2, down_out);
  BOOST_TEST(down_out.find("cannot connect") != std::string::npos, down_out);
}

BOOST_AUTO_TEST_SUITE_END()
