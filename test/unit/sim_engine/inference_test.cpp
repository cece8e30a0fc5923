// Chat and text completions without streaming: vLLM's body shapes, its 404 for unknown models,
// and output that is a deterministic function of (seed, model, prompt).
#include <algorithm>
#include <boost/test/unit_test.hpp>

#include "test/unit/sim_engine/engine_fixture.hpp"

namespace loraplane::sim_engine::test {

namespace json = boost::json;

namespace {

std::string content_of(const HttpResult& res) {
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  return std::string(
      json::parse(res.body).at("choices").as_array()[0].at("message").at("content").as_string());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(inference)

BOOST_AUTO_TEST_CASE(unknown_model_is_vllms_404) {
  EngineFixture e;
  auto res = e.chat("nope", "hello");
  BOOST_TEST(res.status == 404);
  auto error = json::parse(res.body).at("error").as_object();
  BOOST_TEST(error.at("message").as_string() == "The model `nope` does not exist.");
  BOOST_TEST(error.at("type").as_string() == "NotFoundError");
  BOOST_TEST(error.at("param").as_string() == "model");
  BOOST_TEST(error.at("code").as_int64() == 404);
  res = e.post_json("/v1/completions", {{"model", "nope"}, {"prompt", "x"}});
  BOOST_TEST(res.status == 404);
}

BOOST_AUTO_TEST_CASE(chat_completion_shape_and_usage) {
  EngineFixture e;
  auto res = e.chat("toy-llama", "three little words", 5);
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  BOOST_TEST(res.headers["content-type"] == "application/json");
  auto body = json::parse(res.body).as_object();
  BOOST_TEST(std::string(body.at("id").as_string()).rfind("chatcmpl-", 0) == 0u);
  BOOST_TEST(body.at("object").as_string() == "chat.completion");
  BOOST_TEST(body.at("model").as_string() == "toy-llama");
  BOOST_TEST(body.at("created").as_int64() > 0);
  auto& choice = body.at("choices").as_array()[0].as_object();
  BOOST_TEST(choice.at("index").as_int64() == 0);
  BOOST_TEST(choice.at("message").at("role").as_string() == "assistant");
  BOOST_TEST(choice.at("finish_reason").as_string() == "length");
  auto& usage = body.at("usage").as_object();
  BOOST_TEST(usage.at("prompt_tokens").as_int64() == 3);
  BOOST_TEST(usage.at("completion_tokens").as_int64() == 5);
  BOOST_TEST(usage.at("total_tokens").as_int64() == 8);
  auto text = std::string(choice.at("message").at("content").as_string());
  BOOST_TEST(std::count(text.begin(), text.end(), ' ') == 4);  // five words
}

BOOST_AUTO_TEST_CASE(output_is_deterministic_per_seed_model_and_prompt) {
  std::string first, again, other_prompt, adapter;
  {
    EngineFixture e;
    e.load("sql");
    first = content_of(e.chat("toy-llama", "tell me a story", 12));
    again = content_of(e.chat("toy-llama", "tell me a story", 12));
    other_prompt = content_of(e.chat("toy-llama", "tell me a joke", 12));
    adapter = content_of(e.chat("sql", "tell me a story", 12));
  }
  BOOST_TEST(first == again);
  BOOST_TEST(first != other_prompt);
  BOOST_TEST(first != adapter);
  EngineFixture same_seed;
  BOOST_TEST(content_of(same_seed.chat("toy-llama", "tell me a story", 12)) == first);
  auto options = test_options();
  options.seed = 8;
  EngineFixture other_seed(options);
  BOOST_TEST(content_of(other_seed.chat("toy-llama", "tell me a story", 12)) != first);
}

BOOST_AUTO_TEST_CASE(adapter_requests_answer_with_the_adapter_name) {
  EngineFixture e;
  e.load("sql");
  auto res = e.chat("sql", "select", 3);
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  BOOST_TEST(json::parse(res.body).at("model").as_string() == "sql");
  // without max_tokens the model stops by itself
  res = e.post_json("/v1/chat/completions",
                    {{"model", "sql"},
                     {"messages", json::array{json::object{{"role", "user"}, {"content", "hi"}}}}});
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  auto choice = json::parse(res.body).at("choices").as_array()[0];
  BOOST_TEST(choice.at("finish_reason").as_string() == "stop");
}

BOOST_AUTO_TEST_CASE(text_completion_shape_and_default_max_tokens) {
  EngineFixture e;
  auto res =
      e.post_json("/v1/completions", {{"model", "toy-llama"}, {"prompt", "once upon a time"}});
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  auto body = json::parse(res.body).as_object();
  BOOST_TEST(std::string(body.at("id").as_string()).rfind("cmpl-", 0) == 0u);
  BOOST_TEST(body.at("object").as_string() == "text_completion");
  auto& choice = body.at("choices").as_array()[0].as_object();
  BOOST_TEST(!choice.at("text").as_string().empty());
  BOOST_TEST(body.at("usage").at("prompt_tokens").as_int64() == 4);
  BOOST_TEST(body.at("usage").at("completion_tokens").as_int64() <= 16);
  // ignore_eos runs exactly to max_tokens
  res =
      e.post_json("/v1/completions", {{"prompt", "x"}, {"max_tokens", 100}, {"ignore_eos", true}});
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  BOOST_TEST(json::parse(res.body).at("usage").at("completion_tokens").as_int64() == 100);
}

BOOST_AUTO_TEST_CASE(invalid_requests_are_400) {
  EngineFixture e;
  BOOST_TEST(e.post("/v1/chat/completions", "{").status == 400);
  BOOST_TEST(e.post_json("/v1/chat/completions", {{"model", "toy-llama"}}).status == 400);
  auto res =
      e.post_json("/v1/chat/completions",
                  {{"messages", json::array{json::object{{"role", "user"}, {"content", "x"}}}},
                   {"stream_options", json::object{{"include_usage", true}}}});
  BOOST_TEST(res.status == 400);
  BOOST_TEST(json::parse(res.body).at("error").at("message").as_string() ==
             "Stream options can only be defined when `stream=True`.");
  res = e.chat("toy-llama", "x", 9000);
  BOOST_TEST(res.status == 400);
  BOOST_TEST(json::parse(res.body).at("error").at("param").as_string() == "max_tokens");
  BOOST_TEST(e.chat("toy-llama", "x", 0).status == 400);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::sim_engine::test
