#include "test/integration/lifecycle/deployment.hpp"

#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "common/sha256.hpp"
#include "test/support/multipart_body.hpp"

namespace loraplane::lifecycle_test {

using namespace std::chrono_literals;


namespace {

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

}  // namespace

Deployment::Deployment() : prefix_("lc-" + random_base62(10) + ".") {}

Deployment::~Deployment() {
  // Workers first so nothing is left half-done in their logs; SIGTERM is the clean stop.
  for (auto* p : {&distribute_, &validate_, &gateway_})
    if (*p) (*p)->stop(SIGTERM, 20s);
}

std::unique_ptr<lt::Process> Deployment::spawn(std::vector<std::string> args,
                                               const std::string& ready_line, std::string* line) {
  std::vector<std::string> argv = {lt::loraplane_binary(), "--topic-prefix", prefix_};
  argv.insert(argv.end(), args.begin(), args.end());
  auto p = std::make_unique<lt::Process>(
      argv, std::vector<std::string>{"LORAPLANE_ADMIN_TOKEN=" + kAdminToken});
  auto got = p->wait_for_line(ready_line, 90s);
  BOOST_REQUIRE_MESSAGE(got, "`" + args.front() + "` did not start:\n" + p->output());
  if (line) *line = *got;
  return p;
}

void Deployment::start_gateway() {
  if (gateway_) past_logs_.push_back(gateway_->output());
  std::string line;
  gateway_ = spawn({"gateway", "--kafka", broker(), "--port", "0"}, "loraplane ready on", &line);
  port_ = lt::port_from_line(line);
  BOOST_REQUIRE(port_ != 0);
}

void Deployment::start_validate() {
  if (validate_) past_logs_.push_back(validate_->output());
  // 6 s is the broker's smallest session timeout: a restarted worker gets the partitions of the
  // killed one that soon.
  validate_ =
      spawn({"worker", "--role", "validate", "--kafka", broker(), "--session-timeout-ms", "6000",
             "--port", "0"},
            "taking jobs");
}

void Deployment::start_distribute() {
  if (distribute_) past_logs_.push_back(distribute_->output());
  distribute_ = spawn({"worker", "--role", "distribute", "--kafka", broker(), "--data-dir",
                       dir_.path() + "/storage-0", "--node-id", "storage-0", "--port", "0"},
                      "serving blobs on");
}

void Deployment::kill_gateway() {
  BOOST_REQUIRE(gateway_);
  gateway_->stop(SIGKILL);
}

void Deployment::kill_validate() {
  BOOST_REQUIRE(validate_);
  validate_->stop(SIGKILL);
}

std::string Deployment::logs() const {
  std::string out;
  for (const auto& l : past_logs_) out += "--- earlier process ---\n" + l;
  if (gateway_) out += "--- gateway ---\n" + gateway_->output();
  if (validate_) out += "--- validate ---\n" + validate_->output();
  if (distribute_) out += "--- distribute ---\n" + distribute_->output();
  return out;
}

Tenant Deployment::create_tenant(const std::string& name, const std::string& tier) {
  auto r = lt::http_request(port_, "POST", "/admin/v1/tenants",
                            json::serialize(json::object{{"name", name}, {"tier", tier}}),
                            bearer(kAdminToken));
  BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
  auto o = parse_object(r.body);
  return {std::string(o["id"].as_string()), std::string(o["api_key"].as_string())};
}

lt::HttpResult Deployment::upload(const std::string& key, const Fields& fields,
                                  const std::string& file) {
  const std::string boundary = "----loraplane-lifecycle-" + random_base62(12);
  auto headers = bearer(key);
  headers["Content-Type"] = lt::multipart_content_type(boundary);
  return lt::http_request(port_, "POST", "/v1/adapters/upload",
                          lt::multipart_body(boundary, fields, file), headers);
}

lt::HttpResult Deployment::get(const std::string& key, const std::string& id) {
  return lt::http_request(port_, "GET", "/v1/adapters/" + id, {}, bearer(key));
}

lt::HttpResult Deployment::remove(const std::string& key, const std::string& id) {
  return lt::http_request(port_, "DELETE", "/v1/adapters/" + id, {}, bearer(key));
}

lt::HttpResult Deployment::list(const std::string& key, const std::string& query) {
  return lt::http_request(port_, "GET", "/v1/adapters" + query, {}, bearer(key));
}

std::vector<json::object> Deployment::list_all(const std::string& key) {
  std::vector<json::object> out;
  std::string after;
  for (int page = 0; page < 100; ++page) {
    auto r = list(key, "?limit=100" + (after.empty() ? "" : "&after=" + after));
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
    auto body = parse_object(r.body);
    for (auto& a : body["data"].as_array()) out.push_back(a.as_object());
    if (!body["has_more"].as_bool() || out.empty()) break;
    after = std::string(out.back()["id"].as_string());
  }
  return out;
}

json::object Deployment::settle(const std::string& key, const std::string& id,
                                std::chrono::seconds timeout) {
  json::object last;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = get(key, id);
    BOOST_REQUIRE_MESSAGE(r.status == 200, "GET " + id + ": " + r.body);
    last = parse_object(r.body);
    auto status = last["status"].as_string();
    if (status == "ready" || status == "failed") return last;
    std::this_thread::sleep_for(50ms);
  }
  BOOST_TEST_MESSAGE("adapter " << id << " did not settle; last: " << json::serialize(last));
  return last;
}

json::object parse_object(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  BOOST_REQUIRE_MESSAGE(!ec && v.is_object(), "not a JSON object: " + body.substr(0, 500));
  return v.as_object();
}

std::string error_code_of(const lt::HttpResult& r) {
  auto o = parse_object(r.body);
  BOOST_REQUIRE_MESSAGE(o.contains("error"), r.body);
  auto& code = o["error"].as_object()["code"];
  return code.is_string() ? std::string(code.as_string()) : std::string();
}

std::string id_of(const lt::HttpResult& r) {
  return std::string(parse_object(r.body)["id"].as_string());
}

namespace {

std::string le64(std::uint64_t n) {
  std::string out(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

struct Tensor {
  std::string name;
  std::uint64_t rows, cols;
};

// A safetensors file: header (tensors back to back, 2-byte dtype) then data filled by `fill`.
std::string safetensors(const std::vector<Tensor>& tensors, const std::string& dtype,
                        std::uint32_t seed) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    const auto end = offset + t.rows * t.cols * 2;
    header += ",\"" + t.name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" +
              std::to_string(t.rows) + "," + std::to_string(t.cols) + "],\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(end) + "]}";
    offset = end;
  }
  header += "}";
  std::string out = le64(header.size()) + header;
  const auto data_begin = out.size();
  out.resize(data_begin + offset, '\0');
  // A few seeded bytes so every file hashes differently; zeros are valid weights.
  for (std::size_t i = 0; i < 64 && i < offset; ++i)
    out[data_begin + i] = static_cast<char>((seed * 2654435761u + i * 40503u) >> 24);
  return out;
}

}  // namespace

std::string toy_adapter(int rank, int in_dim) {
  const std::string p = "base_model.model.model.layers.0.self_attn.q_proj.";
  const auto r = static_cast<std::uint64_t>(rank);
  return safetensors(
      {{p + "lora_A.weight", r, static_cast<std::uint64_t>(in_dim)}, {p + "lora_B.weight", 64, r}},
      "F16", static_cast<std::uint32_t>(rank * 7 + in_dim));
}

std::string llama_8b_adapter(int rank, std::uint32_t seed) {
  constexpr std::uint64_t kHidden = 4096, kKv = 8 * 128;
  const auto r = static_cast<std::uint64_t>(rank);
  std::vector<Tensor> tensors;
  for (int layer = 0; layer < 32; ++layer) {
    for (auto [module, out] : {std::pair{"q_proj", kHidden}, std::pair{"k_proj", kKv},
                               std::pair{"v_proj", kKv}, std::pair{"o_proj", kHidden}}) {
      const std::string p =
          "base_model.model.model.layers." + std::to_string(layer) + ".self_attn." + module + ".";
      tensors.push_back({p + "lora_A.weight", r, kHidden});
      tensors.push_back({p + "lora_B.weight", out, r});
    }
  }
  return safetensors(tensors, "BF16", seed);
}

std::string sha256_of(const std::string& bytes) { return sha256_hex(bytes); }

}  // namespace loraplane::lifecycle_test
