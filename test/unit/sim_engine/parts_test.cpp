// The simulator's pieces on their own: profiles and option checks, the text generator, request
// parsing, and /metrics number formatting.
#include <boost/test/unit_test.hpp>
#include <stdexcept>

#include "workers/sim_engine/handlers.hpp"
#include "workers/sim_engine/inference_request.hpp"
#include "workers/sim_engine/options.hpp"
#include "workers/sim_engine/text_gen.hpp"

namespace loraplane::sim_engine::test {

BOOST_AUTO_TEST_SUITE(parts)

BOOST_AUTO_TEST_CASE(profiles) {
  auto realistic = profile("realistic");
  BOOST_TEST(realistic.ttft.count() == 150);
  BOOST_TEST(realistic.itl.count() == 20);
  BOOST_TEST(realistic.load_bandwidth == 2e9);
  auto instant = profile("instant");
  BOOST_TEST(instant.ttft.count() == 0);
  BOOST_TEST(instant.itl.count() == 0);
  BOOST_TEST(load_cost(instant, 1'000'000'000).count() == 0);
  BOOST_CHECK_THROW(profile("fast"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(option_checks) {
  SimEngineOptions o;
  BOOST_TEST(validate(o).ok());
  o.max_cpu_loras = 4;
  o.max_loras = 8;
  BOOST_TEST(!validate(o).ok());
  o.max_cpu_loras = 0;
  o.max_lora_rank = 48;
  BOOST_TEST(!validate(o).ok());
  o.max_lora_rank = 320;
  BOOST_TEST(validate(o).ok());
  o.max_loras = 0;
  BOOST_TEST(!validate(o).ok());
}

BOOST_AUTO_TEST_CASE(text_is_deterministic_and_bounded) {
  auto seed = text_seed(1, "m", "hello there", std::nullopt);
  BOOST_TEST(seed == text_seed(1, "m", "hello there", std::nullopt));
  BOOST_TEST(seed != text_seed(1, "m", "hello there", 5));
  BOOST_TEST(seed != text_seed(2, "m", "hello there", std::nullopt));
  BOOST_TEST(seed != text_seed(1, "n", "hello there", std::nullopt));
  auto a = plan_text(seed, 1000);
  BOOST_TEST(a.finish_reason == "stop");
  BOOST_TEST(a.tokens.size() == natural_length(seed));
  BOOST_TEST(a.tokens.size() >= 8u);
  BOOST_TEST(a.tokens.size() < 64u);
  auto cut = plan_text(seed, 3);
  BOOST_TEST(cut.finish_reason == "length");
  BOOST_TEST(cut.tokens.size() == 3u);
  for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(cut.tokens[i] == a.tokens[i]);
  BOOST_TEST(plan_text(seed, 500, true).tokens.size() == 500u);
  BOOST_TEST(count_tokens("  one two\nthree ") == 3u);
  BOOST_TEST(count_tokens("") == 0u);
}

BOOST_AUTO_TEST_CASE(request_parsing) {
  auto chat = parse_chat_request(
      R"({"model":"x","messages":[{"role":"system","content":"be brief"},)"
      R"({"role":"user","content":[{"type":"text","text":"hi there"},{"type":"image_url"}]}],)"
      R"("max_tokens":4,"max_completion_tokens":6,"stream":true,)"
      R"("stream_options":{"include_usage":true}})",
      1 << 20);
  BOOST_REQUIRE(chat.ok());
  BOOST_TEST(chat->model == "x");
  BOOST_TEST(chat->prompt_tokens == 4u);
  BOOST_TEST(*chat->max_tokens == 6u);  // max_completion_tokens wins
  BOOST_TEST(chat->stream);
  BOOST_TEST(chat->include_usage);
  auto tokens = parse_completion_request(R"({"prompt":[1,2,3]})", 1 << 20);
  BOOST_REQUIRE(tokens.ok());
  BOOST_TEST(tokens->prompt_tokens == 3u);
  BOOST_TEST(!parse_completion_request(R"({"prompt":["a","b"]})", 1 << 20).ok());
  BOOST_TEST(!parse_chat_request(R"({"messages":[],"n":2})", 1 << 20).ok());
  BOOST_TEST(!parse_chat_request(R"({"messages":"hi"})", 1 << 20).ok());
  BOOST_TEST(!parse_chat_request(std::string(2000, ' '), 1000).ok());
}

BOOST_AUTO_TEST_CASE(metric_numbers_print_like_prometheus_client) {
  BOOST_TEST(go_float(0) == "0.0");
  BOOST_TEST(go_float(3) == "3.0");
  BOOST_TEST(go_float(123456) == "123456.0");
  BOOST_TEST(go_float(1234567) == "1.234567e+06");
  BOOST_TEST(go_float(1723456789.25) == "1.72345678925e+09");
  BOOST_TEST(go_float(0.5) == "0.5");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::sim_engine::test
