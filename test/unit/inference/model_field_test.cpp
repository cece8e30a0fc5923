// The model-field scanner: finds the top-level "model" string only, replaces exactly its bytes.
#include "gateway/inference/model_field.hpp"

#include <boost/test/unit_test.hpp>

namespace inf = loraplane::gateway::inference;

BOOST_AUTO_TEST_SUITE(model_field)

BOOST_AUTO_TEST_CASE(only_the_top_level_model_value_is_replaced) {
  std::string body =
      R"({"messages":[{"model":"inner","content":"\"model\": no"}],"meta":{"model":"x"},)"
      R"( "model" : "base:adp_1" ,"n":1})";
  auto out = inf::rewrite_model(body, "base:mine");
  BOOST_TEST(out ==
             R"({"messages":[{"model":"inner","content":"\"model\": no"}],"meta":{"model":"x"},)"
             R"( "model" : "base:mine" ,"n":1})");
}

BOOST_AUTO_TEST_CASE(text_without_a_model_string_is_left_alone) {
  for (std::string s : {R"({"id":1})", R"({"model":null})", "[1]", "not json", R"({"model":)", ""})
    BOOST_TEST(inf::rewrite_model(s, "m") == s);
}

BOOST_AUTO_TEST_CASE(the_new_value_is_escaped) {
  BOOST_TEST(inf::rewrite_model(R"({"model":"a"})", "q\"\\\n") == R"({"model":"q\"\\\u000a"})");
}

BOOST_AUTO_TEST_CASE(request_bodies_are_checked) {
  inf::InferenceBody body;
  BOOST_TEST(!inf::parse_inference_body(R"({"model":"b:x","stream":true})", body));
  BOOST_TEST(body.model == "b:x");
  BOOST_TEST(body.stream);
  BOOST_TEST(!inf::parse_inference_body(R"({"model":"b","stream":null})", body));
  BOOST_TEST(!body.stream);
  BOOST_TEST(inf::parse_inference_body(R"({"model":"b:x","model":"c"})", body)->param == "model");
  BOOST_TEST(inf::parse_inference_body(R"({"model":5})", body)->param == "model");
  BOOST_TEST(inf::parse_inference_body(R"({"model":""})", body)->param == "model");
  BOOST_TEST(inf::parse_inference_body(R"({"model":"b","stream":1})", body)->param == "stream");
  BOOST_TEST(inf::parse_inference_body(R"({"mod\u0065l":"b"})", body).has_value());
  BOOST_TEST(inf::parse_inference_body("{", body)->message.find("could not parse") !=
             std::string::npos);
  // Each says what is wrong: nothing sent, or nested too deep.
  BOOST_TEST(inf::parse_inference_body(" \r\n", body)->message.find("empty") != std::string::npos);
  std::string deep(100, '[');
  auto too_deep =
      inf::parse_inference_body(R"({"model":"b","x":)" + deep + std::string(100, ']') + "}", body);
  BOOST_TEST_REQUIRE(too_deep.has_value());
  BOOST_TEST(too_deep->message.find("deeper than") != std::string::npos, too_deep->message);
}

// The engine parses the body again and may keep the last of repeated keys (Python's json does),
// so a second "model" however spelled or typed would let it serve a model other than the one
// resolved for the caller's tenant. Found by fuzz/inference_body.cpp.
BOOST_AUTO_TEST_CASE(a_repeated_model_or_stream_key_is_refused_however_spelled) {
  inf::InferenceBody body;
  for (std::string s :
       {R"({"model":"llama-3.1-8b-instruct","mod\u0065l":"llama-3.1-8b-instruct:adp_other"})",
        R"({"\u006dodel":"b:x","model":"b"})", R"({"model":"bge-m3","model":["a","b"]})",
        R"({"model":"b","model":null})"}) {
    auto bad = inf::parse_inference_body(s, body);
    BOOST_TEST_REQUIRE(bad.has_value(), s);
    BOOST_TEST(bad->param == "model");
  }
  auto bad = inf::parse_inference_body(R"({"model":"b","stream":false,"str\u0065am":true})", body);
  BOOST_TEST_REQUIRE(bad.has_value());
  BOOST_TEST(bad->param == "stream");
}

BOOST_AUTO_TEST_SUITE_END()
