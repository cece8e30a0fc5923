// vLLM references: vllm/entrypoints/openai/protocol.py (ChatCompletionRequest,
// CompletionRequest: max_completion_tokens over max_tokens, stream_options only with stream,
// SamplingParams' "max_tokens must be at least 1").
#include "workers/sim_engine/inference_request.hpp"

#include <algorithm>
#include <cstdint>

#include "workers/sim_engine/json_input.hpp"
#include "workers/sim_engine/text_gen.hpp"

namespace loraplane::sim_engine {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

Error bad(std::string message) { return make_error(Errc::invalid_argument, std::move(message)); }

// Fields common to both APIs: model, max_tokens, n, seed, stream, stream_options.
Status parse_common(object body, InferenceRequest& req) {
  if (auto m = field(body, "model")) {
    std::string_view model;
    if (m->get_string().get(model)) return bad("model: Input should be a valid string");
    req.model = std::string(model);
  }
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    auto v = field(body, key);
    if (!v) continue;
    std::int64_t n = 0;
    if (v->get_int64().get(n)) return bad(std::string(key) + ": Input should be a valid integer");
    if (n < 1) return bad("max_tokens must be at least 1, got " + std::to_string(n) + ".");
    req.max_tokens = static_cast<std::uint32_t>(std::min<std::int64_t>(n, UINT32_MAX));
    if (req.api == Api::completion) break;  // completions has no max_completion_tokens
  }
  if (auto n = field(body, "n")) {
    std::int64_t count = 0;
    if (n->get_int64().get(count) || count != 1)
      return bad("n: the engine simulator generates one choice per request (n = 1)");
  }
  if (auto s = field(body, "seed")) {
    std::int64_t seed = 0;
    if (s->get_int64().get(seed)) return bad("seed: Input should be a valid integer");
    req.seed = seed;
  }
  if (auto s = field(body, "stream")) {
    bool stream = false;
    if (s->get_bool().get(stream)) return bad("stream: Input should be a valid boolean");
    req.stream = stream;
  }
  if (auto e = field(body, "ignore_eos")) req.ignore_eos = e->is_bool() && e->get_bool().value();
  if (auto o = field(body, "stream_options")) {
    if (!req.stream) return bad("Stream options can only be defined when `stream=True`.");
    object options;
    if (o->get_object().get(options)) return bad("stream_options: Input should be an object");
    if (auto u = field(options, "include_usage"))
      req.include_usage = u->is_bool() && u->get_bool().value();
    if (auto c = field(options, "continuous_usage_stats"))
      req.continuous_usage = c->is_bool() && c->get_bool().value();
  }
  return {};
}

// A message's content: a string, or a list of parts of which the text ones count.
Status append_content(element content, std::string& prompt) {
  std::string_view text;
  if (!content.get_string().get(text)) {
    prompt += text;
    return {};
  }
  simdjson::dom::array parts;
  if (content.get_array().get(parts)) return bad("messages: content must be a string or a list");
  for (auto part : parts) {
    object p;
    if (part.get_object().get(p)) return bad("messages: content parts must be objects");
    std::string_view type, part_text;
    if (p["type"].get_string().get(type)) return bad("messages: content part without a type");
    if (type == "text") {
      if (p["text"].get_string().get(part_text)) return bad("messages: text part without text");
      prompt += part_text;
      prompt += '\n';
    }
  }
  return {};
}

}  // namespace

Result<InferenceRequest> parse_chat_request(std::string_view body, std::size_t max_bytes) {
  auto root = parse_json(body, max_bytes);
  if (!root) return bad(root.error().message);
  object o;
  if (root->get_object().get(o)) return bad("request body must be a JSON object");
  InferenceRequest req;
  req.api = Api::chat;
  if (auto st = parse_common(o, req); !st) return st.error();
  auto messages_field = field(o, "messages");
  simdjson::dom::array messages;
  if (!messages_field || messages_field->get_array().get(messages))
    return bad("messages: Field required (a list of messages)");
  for (auto m : messages) {
    object message;
    std::string_view role;
    if (m.get_object().get(message) || message["role"].get_string().get(role))
      return bad("messages: each message needs a string role");
    std::string text;
    if (auto content = field(message, "content")) {
      if (auto st = append_content(*content, text); !st) return st.error();
    }
    req.prompt_tokens += count_tokens(text);
    req.prompt.append(role).append(": ").append(text).append("\n");
  }
  return req;
}

Result<InferenceRequest> parse_completion_request(std::string_view body, std::size_t max_bytes) {
  auto root = parse_json(body, max_bytes);
  if (!root) return bad(root.error().message);
  object o;
  if (root->get_object().get(o)) return bad("request body must be a JSON object");
  InferenceRequest req;
  req.api = Api::completion;
  if (auto st = parse_common(o, req); !st) return st.error();
  if (auto e = field(o, "echo")) req.echo = e->is_bool() && e->get_bool().value();
  auto prompt = field(o, "prompt");
  if (!prompt) return bad("prompt: Field required");
  std::string_view text;
  simdjson::dom::array list;
  if (!prompt->get_string().get(text)) {
    req.prompt = std::string(text);
    req.prompt_tokens = count_tokens(text);
  } else if (!prompt->get_array().get(list) && list.size() == 1 &&
             !list.at(0).get_string().get(text)) {
    req.prompt = std::string(text);
    req.prompt_tokens = count_tokens(text);
  } else if (!prompt->get_array().get(list) && list.size() > 0 && list.at(0).is_int64()) {
    for (auto id : list) {  // token ids: the ids are the prompt
      std::int64_t token = 0;
      if (id.get_int64().get(token)) return bad("prompt: a token list holds integers only");
      req.prompt += std::to_string(token) + ' ';
    }
    req.prompt_tokens = static_cast<std::uint32_t>(list.size());
  } else {
    return bad("prompt: one string or one list of token ids per request in the engine simulator");
  }
  return req;
}

}  // namespace loraplane::sim_engine
