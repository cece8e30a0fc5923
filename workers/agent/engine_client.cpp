// vLLM engine client (engine_client.hpp): requests through common/http_client, answers read
// the way vLLM writes them (errors nested or flat, plain-text successes).
#include "workers/agent/engine_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <sstream>

namespace loraplane::agent {

namespace {

namespace json = boost::json;

std::string trimmed_url(std::string url) {
  while (url.ends_with('/')) url.pop_back();
  return url;
}

Error engine_error(unsigned status, const std::string& what, const std::string& body) {
  const auto code = status >= 500 ? Errc::unavailable : Errc::invalid_argument;
  return make_error(
      code, what + ": engine answered " + std::to_string(status) + ": " + error_message(body));
}

// Values of label `name` in a Prometheus label set `{a="x",b="y"}` (no escapes in lora names).
std::string label(std::string_view labels, std::string_view name) {
  const std::string key = std::string(name) + "=\"";
  auto at = labels.find(key);
  if (at == std::string_view::npos) return {};
  at += key.size();
  auto end = labels.find('"', at);
  return std::string(labels.substr(at, end == std::string_view::npos ? labels.npos : end - at));
}

void split_names(const std::string& csv, std::vector<std::string>& out) {
  std::size_t at = 0;
  while (at < csv.size()) {
    auto comma = csv.find(',', at);
    auto part = csv.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
}

}  // namespace

std::string error_message(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const json::object* o = &v.as_object();
    if (auto* e = o->if_contains("error"); e && e->is_object()) o = &e->as_object();
    if (auto* m = o->if_contains("message"); m && m->is_string())
      return std::string(m->as_string());
  }
  return body.size() > 512 ? body.substr(0, 512) : body;
}

Result<std::vector<EngineAdapter>> parse_models(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  const json::array* data = nullptr;
  if (!ec && v.is_object())
    if (auto* d = v.as_object().if_contains("data"); d && d->is_array()) data = &d->as_array();
  if (!data) return make_error(Errc::invalid_argument, "GET /v1/models: not a model list");
  std::vector<EngineAdapter> out;
  for (const auto& item : *data) {
    if (!item.is_object()) continue;
    const auto& o = item.as_object();
    auto* id = o.if_contains("id");
    auto* parent = o.if_contains("parent");
    if (!id || !id->is_string() || !parent || !parent->is_string()) continue;  // base model
    EngineAdapter a;
    a.name = std::string(id->as_string());
    if (auto* root = o.if_contains("root"); root && root->is_string())
      a.path = std::string(root->as_string());
    out.push_back(std::move(a));
  }
  return out;
}

EngineLoad parse_engine_metrics(const std::string& text) {
  EngineLoad load;
  std::istringstream lines(text);
  std::string line;
  double newest = -1;
  std::string newest_labels;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    double value = 0;
    try {
      value = std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
      continue;
    }
    auto brace = line.find('{');
    auto name = line.substr(0, std::min(brace, line.find(' ')));
    if (name == "vllm:num_requests_waiting") load.waiting += static_cast<int>(value);
    if (name == "vllm:num_requests_running") load.running += static_cast<int>(value);
    // One series per label set; its value is the time it was last current.
    if (name == "vllm:lora_requests_info" && brace != std::string::npos && value > newest) {
      newest = value;
      newest_labels = line.substr(brace, space - brace);
    }
  }
  if (newest >= 0) {
    split_names(label(newest_labels, "running_lora_adapters"), load.active);
    split_names(label(newest_labels, "waiting_lora_adapters"), load.active);
  }
  return load;
}

EngineClient::EngineClient(std::string base_url, http::ClientOptions options)
    : base_url_(trimmed_url(std::move(base_url))), options_(options) {}

awaitable<Result<std::vector<EngineAdapter>>> EngineClient::list_adapters() const {
  auto op = http::request("GET", base_url_ + "/v1/models", {}, {}, options_);
  auto res = co_await std::move(op);
  if (!res) co_return res.error();
  if (res->status != 200) co_return engine_error(res->status, "GET /v1/models", res->body);
  co_return parse_models(res->body);
}

awaitable<Status> EngineClient::load(std::string lora_name, std::string lora_path) const {
  json::object body{{"lora_name", lora_name}, {"lora_path", lora_path}};
  auto op = http::request("POST", base_url_ + "/v1/load_lora_adapter", json::serialize(body),
                          "application/json", options_);
  auto res = co_await std::move(op);
  if (!res) co_return res.error();
  if (res->status == 200) co_return Status{};
  auto message = error_message(res->body);
  if (res->status == 400 && message.find("has already been loaded") != std::string::npos)
    co_return make_error(Errc::already_exists, message);
  if (res->status == 404) co_return make_error(Errc::not_found, message);
  co_return engine_error(res->status, "load " + lora_name, res->body);
}

awaitable<Status> EngineClient::unload(std::string lora_name) const {
  json::object body{{"lora_name", lora_name}};
  auto op = http::request("POST", base_url_ + "/v1/unload_lora_adapter", json::serialize(body),
                          "application/json", options_);
  auto res = co_await std::move(op);
  if (!res) co_return res.error();
  if (res->status == 200) co_return Status{};
  if (res->status == 404) co_return make_error(Errc::not_found, error_message(res->body));
  co_return engine_error(res->status, "unload " + lora_name, res->body);
}

awaitable<Result<EngineLoad>> EngineClient::load_stats() const {
  auto op = http::request("GET", base_url_ + "/metrics", {}, {}, options_);
  auto res = co_await std::move(op);
  if (!res) co_return res.error();
  if (res->status != 200) co_return engine_error(res->status, "GET /metrics", res->body);
  co_return parse_engine_metrics(res->body);
}

}  // namespace loraplane::agent
