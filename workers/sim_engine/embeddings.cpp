// POST /v1/embeddings of an embedding model (options.embedding_dim > 0), as vLLM's
// serving_embedding.py answers it: `input` a string, a list of strings, a list of token ids
// or a list of such lists; `encoding_format` "float" (default) or "base64" (the float32
// little-endian bytes, which the official SDK asks for by default); one unit-length vector per
// input, a deterministic function of (engine seed, model, input). A generative engine answers
// 400 "does not support Embeddings API", as vLLM does.
#include <openssl/evp.h>

#include <bit>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <vector>

#include "common/unix_time.hpp"
#include "workers/sim_engine/handlers.hpp"
#include "workers/sim_engine/json_input.hpp"
#include "workers/sim_engine/openai_json.hpp"
#include "workers/sim_engine/text_gen.hpp"

namespace loraplane::sim_engine {

namespace {

namespace json = boost::json;
using http::Status;
using simdjson::dom::element;

struct Input {
  std::string key;  // what the vector is a function of: the text, or the token ids
  std::uint32_t tokens = 0;
};

// One element of `input`: a string or a list of token ids.
std::optional<Input> one_input(element e) {
  std::string_view text;
  if (!e.get_string().get(text)) return Input{std::string(text), count_tokens(text)};
  simdjson::dom::array ids;
  if (e.get_array().get(ids)) return std::nullopt;
  Input in;
  for (auto id : ids) {
    std::int64_t n = 0;
    if (id.get_int64().get(n)) return std::nullopt;
    in.key += std::to_string(n) + ' ';
    ++in.tokens;
  }
  return in;
}

std::string base64_floats(const std::vector<float>& v) {
  static_assert(std::endian::native == std::endian::little, "float32 bytes are little-endian");
  const auto bytes = v.size() * sizeof(float);
  std::string out(4 * ((bytes + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(v.data()),
                                static_cast<int>(bytes));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

awaitable<http::Response> embeddings(StatePtr state, http::RequestContext& rc) {
  const auto& o = state->options;
  if (o.embedding_dim == 0) co_return vllm_bad_request("The model does not support Embeddings API");
  auto parsed = parse_json(rc.request.body(), o.max_body_bytes);
  if (!parsed) co_return vllm_bad_request(parsed.error().message);
  simdjson::dom::object body;
  if (parsed->get_object().get(body))
    co_return validation_error("", "model_attributes_type", "Input should be a valid dictionary");
  std::string model = o.base_model;
  if (auto m = field(body, "model")) {
    std::string_view name;
    if (m->get_string().get(name))
      co_return validation_error("model", "string_type", "Input should be a valid string");
    model = std::string(name);
  }
  if (model != o.base_model)
    co_return vllm_model_not_found(model);
  bool base64 = false;
  if (auto f = field(body, "encoding_format")) {
    std::string_view format;
    if (f->get_string().get(format) || (format != "float" && format != "base64"))
      co_return validation_error("encoding_format", "literal_error",
                                 "Input should be 'float' or 'base64'");
    base64 = format == "base64";
  }
  if (auto d = field(body, "dimensions")) {
    std::int64_t dims = 0;
    if (d->get_int64().get(dims) || dims != static_cast<std::int64_t>(o.embedding_dim))
      co_return vllm_bad_request("Model \"" + model +
                                 "\" does not support matryoshka representation, changing "
                                 "output dimensions will lead to poor results.");
  }
  auto in = field(body, "input");
  if (!in) co_return validation_error("input", "missing", "Field required");
  std::vector<Input> inputs;
  simdjson::dom::array list;
  const bool is_list = !in->get_array().get(list);
  // A flat list of ids is one input.
  const bool token_list = is_list && list.size() > 0 &&
                          ((*list.begin()).is_int64() || (*list.begin()).is_uint64());
  if (in->is_string() || token_list) {
    auto one = one_input(*in);
    if (!one) co_return validation_error("input", "list_type", "Input should be a valid list");
    inputs.push_back(std::move(*one));
  } else if (is_list) {
    for (auto e : list) {
      auto one = one_input(e);
      if (!one)
        co_return validation_error("input", "string_type",
                                   "Input should be a string or a list of integers");
      inputs.push_back(std::move(*one));
    }
  } else {
    co_return validation_error("input", "string_type", "Input should be a valid string");
  }
  if (inputs.empty()) co_return vllm_bad_request("input must not be empty", "input");
  std::uint32_t prompt_tokens = 0;
  json::array data;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].tokens >= o.max_model_len)
      co_return vllm_bad_request("This model's maximum context length is " +
                                 std::to_string(o.max_model_len) +
                                 " tokens. However, you requested " +
                                 std::to_string(inputs[i].tokens) +
                                 " tokens in the input for embedding generation. Please reduce "
                                 "the length of the input.");
    prompt_tokens += inputs[i].tokens;
    auto v = plan_embedding(text_seed(o.seed, model, inputs[i].key, std::nullopt), o.embedding_dim);
    json::object item{{"index", i}, {"object", "embedding"}};
    if (base64) {
      item["embedding"] = base64_floats(v);
    } else {
      json::array values;
      values.reserve(v.size());
      for (float x : v) values.emplace_back(static_cast<double>(x));
      item["embedding"] = std::move(values);
    }
    data.emplace_back(std::move(item));
  }
  state->counters.prompt_tokens += prompt_tokens;
  json::object res{{"id", "embd-" + state->random_hex()},
                   {"object", "list"},
                   {"created", unix_now_seconds()},
                   {"model", model},
                   {"data", std::move(data)},
                   {"usage", json::object{{"prompt_tokens", prompt_tokens},
                                          {"total_tokens", prompt_tokens},
                                          {"completion_tokens", 0},
                                          {"prompt_tokens_details", nullptr}}}};
  co_return http::json_response(Status::ok, json::serialize(res));
}

}  // namespace loraplane::sim_engine
