// /v1/embeddings of an embedding engine: vLLM's body shape, unit vectors that depend only on
// (seed, model, input), float and base64 encodings of the same vector, token-id inputs, and the
// refusals: a generative engine, another model, chat on an embedding engine, bad input.
#include <openssl/evp.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>

#include "test/unit/sim_engine/engine_fixture.hpp"

namespace loraplane::sim_engine::test {

namespace json = boost::json;

namespace {

constexpr std::size_t kDim = 48;

SimEngineOptions embedding_options() {
  auto o = test_options();
  o.base_model = "bge-m3";
  o.embedding_dim = kDim;
  return o;
}

std::vector<double> floats_of(const json::value& embedding) {
  std::vector<double> v;
  for (const auto& x : embedding.as_array()) v.push_back(x.to_number<double>());
  return v;
}

std::vector<double> decode_base64(const json::value& embedding) {
  const auto& text = embedding.as_string();
  std::string bytes(text.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  BOOST_REQUIRE(n >= 0);
  // DecodeBlock counts a zero byte for each '=' of padding.
  for (auto c = text.rbegin(); c != text.rend() && *c == '='; ++c) --n;
  std::vector<double> v(static_cast<std::size_t>(n) / sizeof(float));
  for (std::size_t i = 0; i < v.size(); ++i) {
    float f = 0;
    std::memcpy(&f, bytes.data() + i * sizeof(float), sizeof(float));
    v[i] = f;
  }
  return v;
}

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(embeddings)

BOOST_AUTO_TEST_CASE(vectors_are_unit_length_deterministic_and_per_input) {
  EngineFixture e(embedding_options());
  auto res = e.post_json("/v1/embeddings",
                         {{"model", "bge-m3"}, {"input", json::array{"one two", "three"}}});
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  auto body = json::parse(res.body).as_object();
  BOOST_TEST(body.at("object").as_string() == "list");
  BOOST_TEST(body.at("model").as_string() == "bge-m3");
  BOOST_TEST(body.at("usage").at("prompt_tokens").as_int64() == 3);
  BOOST_TEST(body.at("usage").at("total_tokens").as_int64() == 3);
  auto& data = body.at("data").as_array();
  BOOST_REQUIRE(data.size() == 2u);
  BOOST_TEST(data[1].at("index").as_int64() == 1);
  BOOST_TEST(data[0].at("object").as_string() == "embedding");
  auto first = floats_of(data[0].at("embedding"));
  auto second = floats_of(data[1].at("embedding"));
  BOOST_TEST(first.size() == kDim);
  BOOST_TEST(std::abs(norm(first) - 1) < 1e-5);
  BOOST_TEST(first != second);
  // The same text alone gives the same vector.
  auto again = e.post_json("/v1/embeddings", {{"model", "bge-m3"}, {"input", "one two"}});
  BOOST_REQUIRE_MESSAGE(again.status == 200, again.body);
  BOOST_TEST(floats_of(json::parse(again.body).at("data").as_array()[0].at("embedding")) ==
             first);
}

BOOST_AUTO_TEST_CASE(base64_is_the_float32_bytes_of_the_same_vector) {
  EngineFixture e(embedding_options());
  auto plain = e.post_json("/v1/embeddings", {{"model", "bge-m3"}, {"input", "hello"}});
  auto packed = e.post_json("/v1/embeddings", {{"model", "bge-m3"},
                                               {"input", "hello"},
                                               {"encoding_format", "base64"}});
  BOOST_REQUIRE_MESSAGE(plain.status == 200, plain.body);
  BOOST_REQUIRE_MESSAGE(packed.status == 200, packed.body);
  auto a = floats_of(json::parse(plain.body).at("data").as_array()[0].at("embedding"));
  auto b = decode_base64(json::parse(packed.body).at("data").as_array()[0].at("embedding"));
  BOOST_REQUIRE(b.size() == a.size());
  for (std::size_t i = 0; i < a.size(); ++i) BOOST_TEST(std::abs(a[i] - b[i]) < 1e-6);
}

BOOST_AUTO_TEST_CASE(token_id_inputs_count_their_ids) {
  EngineFixture e(embedding_options());
  auto one = e.post_json("/v1/embeddings",
                         {{"model", "bge-m3"}, {"input", json::array{1, 2, 3, 4}}});
  BOOST_REQUIRE_MESSAGE(one.status == 200, one.body);
  auto body = json::parse(one.body);
  BOOST_TEST(body.at("data").as_array().size() == 1u);
  BOOST_TEST(body.at("usage").at("prompt_tokens").as_int64() == 4);
  auto two = e.post_json("/v1/embeddings",
                         {{"model", "bge-m3"},
                          {"input", json::array{json::array{1, 2}, json::array{3}}}});
  BOOST_REQUIRE_MESSAGE(two.status == 200, two.body);
  BOOST_TEST(json::parse(two.body).at("data").as_array().size() == 2u);
}

BOOST_AUTO_TEST_CASE(refusals_name_what_is_wrong) {
  EngineFixture e(embedding_options());
  auto message = [](const HttpResult& r) {
    return std::string(json::parse(r.body).at("error").at("message").as_string());
  };
  auto other = e.post_json("/v1/embeddings", {{"model", "toy-llama"}, {"input", "x"}});
  BOOST_TEST(other.status == 404);
  BOOST_TEST(message(other) == "The model `toy-llama` does not exist.");
  auto empty = e.post_json("/v1/embeddings", {{"model", "bge-m3"}, {"input", json::array{}}});
  BOOST_TEST(empty.status == 400);
  auto missing = e.post_json("/v1/embeddings", {{"model", "bge-m3"}});
  BOOST_TEST(missing.status == 400);
  BOOST_TEST(message(missing).find("'input'") != std::string::npos, message(missing));
  auto mixed = e.post_json("/v1/embeddings",
                           {{"model", "bge-m3"}, {"input", json::array{"a", json::object{}}}});
  BOOST_TEST(mixed.status == 400);
  auto format = e.post_json("/v1/embeddings",
                            {{"model", "bge-m3"}, {"input", "x"}, {"encoding_format", "hex"}});
  BOOST_TEST(format.status == 400);
  BOOST_TEST(message(format).find("encoding_format") != std::string::npos, message(format));
  auto chat = e.chat("bge-m3", "hello");
  BOOST_TEST(chat.status == 400);
  BOOST_TEST(message(chat) == "The model does not support Chat Completions API");

  EngineFixture generative;  // toy-llama
  auto refused = generative.post_json("/v1/embeddings", {{"model", "toy-llama"}, {"input", "x"}});
  BOOST_TEST(refused.status == 400);
  BOOST_TEST(message(refused) == "The model does not support Embeddings API");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::sim_engine::test
