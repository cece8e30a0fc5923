// `loraplane --log-json up` as an operator runs it: every line on stderr is a JSON object, one
// request id can be followed from the gateway through the validate worker, the storage node and
// the agent, and no credential (API key, hf_token, admin token) is ever written.
#define BOOST_TEST_MODULE logs
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <signal.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "test/integration/up/up_support.hpp"
#include "test/support/multipart_body.hpp"

using namespace loraplane::test::up;
using namespace std::chrono_literals;

namespace {

// Also an awkward one: quotes and a backslash must survive into valid JSON.
const std::string kUploadRid = "logs-upload-\"q\"\\-" + std::to_string(::getpid());
const std::string kDeleteRid = "logs-delete-" + std::to_string(::getpid());
const std::string kImportRid = "logs-import-" + std::to_string(::getpid());
const std::string kHfToken = "hf_logs_test_secret_9f8e7d6c";

lt::HttpResult upload_with_rid(std::uint16_t port, const std::string& key, const std::string& name,
                               const std::string& file, const std::string& rid) {
  const std::string boundary = "----loraplane-logs-boundary";
  auto headers = bearer(key);
  headers["Content-Type"] = lt::multipart_content_type(boundary);
  headers["x-request-id"] = rid;
  const std::string body =
      lt::multipart_body(boundary, {{"name", name}, {"base_model", "toy-llama"}}, file);
  return lt::http_request(port, "POST", "/v1/adapters/upload", body, headers);
}

struct Line {
  std::string raw;
  json::object fields;
  std::string str(const char* name) const {
    auto* v = fields.if_contains(name);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  }
};

std::vector<Line> parse_lines(const std::string& output) {
  std::vector<Line> lines;
  std::istringstream in(output);
  std::string raw;
  while (std::getline(in, raw)) {
    if (raw.empty()) continue;
    boost::system::error_code ec;
    auto value = json::parse(raw, ec);
    BOOST_TEST_REQUIRE(!ec, "stderr line is not JSON: " << raw);
    BOOST_TEST_REQUIRE(value.is_object(), "stderr line is not a JSON object: " << raw);
    Line line{raw, value.as_object()};
    for (const char* field : {"ts", "level", "role", "msg"})
      BOOST_TEST_REQUIRE(line.fields.contains(field), "no " << field << " in " << raw);
    lines.push_back(std::move(line));
  }
  return lines;
}

std::set<std::string> roles_of(const std::vector<Line>& lines, const std::string& rid) {
  std::set<std::string> roles;
  for (const auto& l : lines)
    if (l.str("request_id") == rid) roles.insert(l.str("role"));
  return roles;
}

bool has_line(const std::vector<Line>& lines, const std::string& rid, const std::string& role,
              const std::string& text) {
  for (const auto& l : lines)
    if (l.str("request_id") == rid && l.str("role") == role &&
        l.str("msg").find(text) != std::string::npos)
      return true;
  return false;
}

std::string describe(const std::set<std::string>& roles) {
  std::string out;
  for (const auto& r : roles) out += r + " ";
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_request_followed_across_roles_in_json_lines) {
  // The Hub is unreachable: the import fails, but its hf_token travels through every role.
  Running up({"--log-json", "--sim-profile", "instant"}, {},
             {"HF_ENDPOINT=http://127.0.0.1:9"});
  auto tenant = create_tenant(up.port, "acme", "shared");
  const std::string key(tenant["api_key"].as_string());
  const std::string tenant_id(tenant["id"].as_string());

  auto uploaded = upload_with_rid(up.port, key, "logs-a", toy_adapter(8), kUploadRid);
  BOOST_TEST_REQUIRE(uploaded.status == 202, uploaded.body);
  BOOST_TEST(uploaded.headers["x-request-id"] == kUploadRid);
  const std::string id(parse_object(uploaded.body)["id"].as_string());
  auto ready = settle(up.port, key, id);
  BOOST_TEST_REQUIRE(ready["status"].as_string() == "ready", json::serialize(ready));

  auto headers = bearer(key);
  auto chat = lt::http_request(
      up.port, "POST", "/v1/chat/completions",
      R"({"model":"toy-llama:logs-a","messages":[{"role":"user","content":"hi"}],"max_tokens":4})",
      headers);
  BOOST_TEST(chat.status == 200, chat.body);

  auto import = lt::http_request(
      up.port, "POST", "/v1/adapters",
      R"({"name":"logs-hub","base_model":"toy-llama","repo":"acme/private","hf_token":")" +
          kHfToken + "\"}",
      [&] {
        auto h = bearer(key);
        h["x-request-id"] = kImportRid;
        return h;
      }());
  BOOST_TEST_REQUIRE(import.status == 202, import.body);
  auto imported = settle(up.port, key, std::string(parse_object(import.body)["id"].as_string()));
  BOOST_TEST(imported["status"].as_string() == "failed");

  headers["x-request-id"] = kDeleteRid;
  auto deleted = lt::http_request(up.port, "DELETE", "/v1/adapters/" + id, {}, headers);
  BOOST_TEST(deleted.status == 200, deleted.body);
  // The agent is the last to hear of the delete; the adapter is gone everywhere after this.
  BOOST_TEST(up.process->wait_for_line("removed deleted adapter " + id, 30s).has_value());
  BOOST_TEST(up.process->stop(SIGTERM) == 0);

  const std::string output = up.process->output();
  const auto lines = parse_lines(output);
  BOOST_TEST(lines.size() > 20u);

  // The upload, from the HTTP request to the engine.
  const auto upload_roles = roles_of(lines, kUploadRid);
  for (const char* role : {"gateway", "validate", "distribute", "agent"})
    BOOST_TEST(upload_roles.contains(role), "no " << role << " line for the upload; roles seen: "
                                                  << describe(upload_roles));
  BOOST_TEST(has_line(lines, kUploadRid, "gateway", "POST /v1/adapters/upload 202"));
  BOOST_TEST(has_line(lines, kUploadRid, "gateway", "tenant=" + tenant_id));
  BOOST_TEST(has_line(lines, kUploadRid, "validate", "upload job"));
  BOOST_TEST(has_line(lines, kUploadRid, "distribute", "stored blob"));
  BOOST_TEST(has_line(lines, kUploadRid, "agent", "load event adapter.ready for " + id));

  // The delete, from the gateway to the agent that unloads it.
  const auto delete_roles = roles_of(lines, kDeleteRid);
  for (const char* role : {"gateway", "validate", "agent"})
    BOOST_TEST(delete_roles.contains(role), "no " << role << " line for the delete; roles seen: "
                                                  << describe(delete_roles));
  BOOST_TEST(has_line(lines, kDeleteRid, "validate", "adapter " + id + " deleted"));
  BOOST_TEST(has_line(lines, kDeleteRid, "agent", "removed deleted adapter " + id));

  // The import's failure is logged by the worker under the import's request id.
  BOOST_TEST(has_line(lines, kImportRid, "validate", "import job"));

  // Every request has its access line; credentials never appear, in any form.
  BOOST_TEST(output.find("POST /v1/chat/completions 200") != std::string::npos);
  BOOST_TEST(output.find(key) == std::string::npos);
  BOOST_TEST(output.find(kHfToken) == std::string::npos);
  BOOST_TEST(output.find(kAdminToken) == std::string::npos);
}
