#include "test/unit/sim_engine/engine_fixture.hpp"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace loraplane::sim_engine::test {

namespace json = boost::json;

SimEngineOptions test_options() {
  SimEngineOptions o = profile("instant");
  o.base_model = "toy-llama";
  o.base_model_root = "/models/toy-llama";
  o.seed = 7;
  o.register_health = false;
  o.process_metrics = false;
  return o;
}

EngineFixture::EngineFixture(SimEngineOptions options) {
  engine_ = std::make_unique<SimEngine>(io_, std::move(options));
  engine_->start();
  port_ = engine_->port();
  thread_ = std::thread([this] { io_.run(); });
}

EngineFixture::~EngineFixture() {
  engine_->stop();
  // Let stop() reach the engine, then end the loop; frames still suspended are destroyed with
  // the io_context.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  io_.stop();
  thread_.join();
  engine_.reset();
}

HttpResult EngineFixture::get(const std::string& target) const {
  return loraplane::test::http_request(port_, "GET", target);
}

HttpResult EngineFixture::post(const std::string& target, const std::string& body) const {
  return loraplane::test::http_request(port_, "POST", target, body);
}

HttpResult EngineFixture::post_json(const std::string& target, const json::value& body) const {
  return post(target, json::serialize(body));
}

std::string EngineFixture::make_adapter(const std::string& name, int rank) const {
  auto path = dir() + "/" + name;
  std::filesystem::create_directories(path);
  write_file(path + "/adapter_config.json", adapter_config_json(rank));
  write_file(path + "/adapter_model.safetensors", adapter_safetensors(rank));
  return path;
}

std::string EngineFixture::load(const std::string& name, int rank) const {
  auto path = make_adapter(name, rank);
  auto res = post_json("/v1/load_lora_adapter", {{"lora_name", name}, {"lora_path", path}});
  BOOST_REQUIRE_MESSAGE(res.status == 200, "load " << name << ": " << res.body);
  return path;
}

HttpResult EngineFixture::chat(const std::string& model, const std::string& prompt, int max_tokens,
                               bool stream, bool include_usage) const {
  json::object body{{"model", model},
                    {"messages", json::array{json::object{{"role", "user"}, {"content", prompt}}}},
                    {"max_tokens", max_tokens}};
  if (stream) body["stream"] = true;
  if (include_usage) body["stream_options"] = json::object{{"include_usage", true}};
  return post_json("/v1/chat/completions", body);
}

std::string adapter_config_json(int rank) {
  json::object config{{"peft_type", "LORA"},
                      {"r", rank},
                      {"lora_alpha", 2 * rank},
                      {"target_modules", json::array{"q_proj"}},
                      {"base_model_name_or_path", "loraplane/toy-llama"},
                      {"bias", "none"}};
  return json::serialize(config);
}

std::string adapter_safetensors(int rank) {
  const std::uint64_t tensor_bytes = static_cast<std::uint64_t>(rank) * 64 * 2;  // F16
  json::object header;
  std::uint64_t at = 0;
  for (int layer = 0; layer < 2; ++layer) {
    const std::string prefix =
        "base_model.model.model.layers." + std::to_string(layer) + ".self_attn.q_proj.";
    header[prefix + "lora_A.weight"] =
        json::object{{"dtype", "F16"},
                     {"shape", json::array{rank, 64}},
                     {"data_offsets", json::array{at, at + tensor_bytes}}};
    at += tensor_bytes;
    header[prefix + "lora_B.weight"] =
        json::object{{"dtype", "F16"},
                     {"shape", json::array{64, rank}},
                     {"data_offsets", json::array{at, at + tensor_bytes}}};
    at += tensor_bytes;
  }
  std::string text = json::serialize(header);
  while (text.size() % 8 != 0) text += ' ';
  std::string out(8, '\0');
  std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += text;
  out.append(at, '\0');
  return out;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE(out.good());
}

std::vector<std::string> sse_events(const std::string& body) {
  std::vector<std::string> events;
  std::size_t at = 0;
  while (at < body.size()) {
    auto end = body.find("\n\n", at);
    BOOST_REQUIRE_MESSAGE(end != std::string::npos, "unterminated event in: " << body.substr(at));
    std::string event = body.substr(at, end - at);
    BOOST_REQUIRE_MESSAGE(event.rfind("data: ", 0) == 0, "not a data event: " << event);
    events.push_back(event.substr(6));
    at = end + 2;
  }
  return events;
}

std::vector<MetricSample> samples(const std::string& text, const std::string& name) {
  std::vector<MetricSample> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto brace = line.find('{');
    auto space = line.rfind(' ');
    std::string metric = line.substr(0, std::min(brace, space));
    if (metric != name) continue;
    MetricSample s;
    if (brace != std::string::npos && brace < space) {
      std::string labels = line.substr(brace + 1, line.rfind('}') - brace - 1);
      std::size_t at = 0;
      while (at < labels.size()) {
        auto eq = labels.find('=', at);
        auto close = labels.find('"', eq + 2);
        s.labels[labels.substr(at, eq - at)] = labels.substr(eq + 2, close - eq - 2);
        at = close + 2;  // past `",`
      }
    }
    s.value = std::stod(line.substr(space + 1));
    out.push_back(std::move(s));
  }
  return out;
}

double metric_value(const std::string& text, const std::string& name) {
  auto found = samples(text, name);
  return found.empty() ? -1 : found.front().value;
}

MetricSample latest_lora_info(const std::string& text) {
  auto series = samples(text, "vllm:lora_requests_info");
  BOOST_REQUIRE(!series.empty());
  MetricSample best = series.front();
  for (const auto& s : series)
    if (s.value > best.value) best = s;
  return best;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace loraplane::sim_engine::test
