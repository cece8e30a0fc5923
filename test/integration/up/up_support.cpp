#include "test/integration/up/up_support.hpp"

#include <boost/test/unit_test.hpp>
#include <thread>

#include "test/support/multipart_body.hpp"

namespace loraplane::test::up {

using namespace std::chrono_literals;

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

json::object parse_object(const std::string& body) {
  auto v = json::parse(body);
  BOOST_REQUIRE(v.is_object());
  return v.as_object();
}

std::string error_code_of(const lt::HttpResult& r) {
  auto o = parse_object(r.body);
  BOOST_REQUIRE(o.contains("error"));
  auto& code = o["error"].as_object()["code"];
  return code.is_string() ? std::string(code.as_string()) : std::string();
}

Running::Running(std::vector<std::string> extra_args, std::string dir,
                 std::vector<std::string> extra_env)
    : data_dir(dir.empty() ? own_dir.path() : std::move(dir)) {
  std::vector<std::string> argv = {lt::loraplane_binary(), "up", "--port", "0", "--data-dir",
                                   this->data_dir};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  extra_env.push_back("LORAPLANE_ADMIN_TOKEN=" + kAdminToken);
  process = std::make_unique<lt::Process>(argv, extra_env);
  auto line = process->wait_for_line("loraplane ready on", 60s);
  BOOST_REQUIRE_MESSAGE(line, "no ready line; output:\n" + process->output());
  port = lt::port_from_line(*line);
  BOOST_REQUIRE(port != 0);
}

json::object create_tenant(std::uint16_t port, const std::string& name, const std::string& tier) {
  auto r = lt::http_request(port, "POST", "/admin/v1/tenants",
                            json::serialize(json::object{{"name", name}, {"tier", tier}}),
                            bearer(kAdminToken));
  BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
  return parse_object(r.body);
}


std::string toy_adapter(int rank, int in_dim) {
  auto b_bytes = static_cast<std::uint64_t>(rank) * 64 * 2;
  auto a_bytes = static_cast<std::uint64_t>(rank) * static_cast<std::uint64_t>(in_dim) * 2;
  std::string prefix = "base_model.model.model.layers.0.self_attn.q_proj.";
  std::string header = "{\"" + prefix + "lora_A.weight\":{\"dtype\":\"F16\",\"shape\":[" +
                       std::to_string(rank) + "," + std::to_string(in_dim) +
                       "],\"data_offsets\":[0," + std::to_string(a_bytes) + "]},\"" + prefix +
                       "lora_B.weight\":{\"dtype\":\"F16\",\"shape\":[64," + std::to_string(rank) +
                       "],\"data_offsets\":[" + std::to_string(a_bytes) + "," +
                       std::to_string(a_bytes + b_bytes) + "]}}";
  std::string out(8, '\0');
  std::uint64_t n = header.size();
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + std::string(a_bytes + b_bytes, '\0');
}

lt::HttpResult upload(std::uint16_t port, const std::string& key,
                      const std::vector<std::pair<std::string, std::string>>& fields,
                      const std::string& file) {
  const std::string boundary = "----loraplane-test-boundary";
  auto headers = bearer(key);
  headers["Content-Type"] = lt::multipart_content_type(boundary);
  return lt::http_request(port, "POST", "/v1/adapters/upload",
                          lt::multipart_body(boundary, fields, file), headers);
}


json::object settle(std::uint16_t port, const std::string& key, const std::string& id) {
  json::object last;
  for (int i = 0; i < 600; ++i) {
    last = parse_object(lt::http_request(port, "GET", "/v1/adapters/" + id, {}, bearer(key)).body);
    auto status = last["status"].as_string();
    if (status == "ready" || status == "failed") break;
    std::this_thread::sleep_for(100ms);
  }
  return last;
}

}  // namespace loraplane::test::up
