#include "gateway/inference/model_field.hpp"

#include <simdjson.h>

#include <algorithm>

namespace loraplane::gateway::inference {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view s, std::size_t at) {
  while (at < s.size() && is_space(s[at])) ++at;
  return at;
}

// At an opening quote: the index past the closing quote, or npos.
std::size_t skip_string(std::string_view s, std::size_t at) {
  for (++at; at < s.size(); ++at) {
    if (s[at] == '\\')
      ++at;
    else if (s[at] == '"')
      return at + 1;
  }
  return std::string_view::npos;
}

// At the start of a value: the index past it, or npos.
std::size_t skip_value(std::string_view s, std::size_t at) {
  if (at >= s.size()) return std::string_view::npos;
  if (s[at] == '"') return skip_string(s, at);
  if (s[at] == '{' || s[at] == '[') {
    int depth = 0;
    while (at < s.size()) {
      char c = s[at];
      if (c == '"') {
        at = skip_string(s, at);
        if (at == std::string_view::npos) return at;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return at + 1;
      }
      ++at;
    }
    return std::string_view::npos;
  }
  while (at < s.size() && s[at] != ',' && s[at] != '}' && s[at] != ']' && !is_space(s[at])) ++at;
  return at;
}

}  // namespace

std::optional<ModelSpan> find_model(std::string_view json, bool* duplicate) {
  if (duplicate) *duplicate = false;
  std::size_t at = skip_space(json, 0);
  if (at >= json.size() || json[at] != '{') return std::nullopt;
  std::optional<ModelSpan> found;
  at = skip_space(json, at + 1);
  while (at < json.size() && json[at] != '}') {
    if (json[at] != '"') return found;
    std::size_t key_end = skip_string(json, at);
    if (key_end == std::string_view::npos) return found;
    std::string_view key = json.substr(at + 1, key_end - at - 2);
    at = skip_space(json, key_end);
    if (at >= json.size() || json[at] != ':') return found;
    at = skip_space(json, at + 1);
    std::size_t value_end = skip_value(json, at);
    if (value_end == std::string_view::npos) return found;
    if (key == "model" && json[at] == '"') {
      if (found) {
        if (duplicate) *duplicate = true;
        return found;
      }
      found = ModelSpan{at, value_end};
      if (!duplicate) return found;  // responses: the first one is all we need
    }
    at = skip_space(json, value_end);
    if (at < json.size() && json[at] == ',') at = skip_space(json, at + 1);
  }
  return found;
}

std::string json_quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string replace_model(std::string_view json, ModelSpan span, std::string_view model) {
  std::string out;
  auto quoted = json_quote(model);
  out.reserve(json.size() - (span.end - span.begin) + quoted.size());
  out.append(json.substr(0, span.begin)).append(quoted).append(json.substr(span.end));
  return out;
}

std::string rewrite_model(std::string_view json, std::string_view model) {
  auto span = find_model(json);
  if (!span) return std::string(json);
  return replace_model(json, *span, model);
}

std::optional<BodyError> parse_inference_body(std::string_view body, InferenceBody& out,
                                              std::size_t max_depth) {
  thread_local simdjson::dom::parser parser;
  const std::size_t capacity = std::max<std::size_t>(body.size(), 64);
  if (parser.capacity() < capacity || parser.max_depth() != max_depth) {
    if (parser.allocate(std::max(capacity, parser.capacity()), max_depth) != simdjson::SUCCESS)
      return BodyError{"request body too large to parse", ""};
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return BodyError{"The request body is empty: the API expects a JSON object.", ""};
  simdjson::dom::element root;
  if (auto err = parser.parse(body.data(), body.size(), true).get(root); err != simdjson::SUCCESS)
    return BodyError{err == simdjson::DEPTH_ERROR
                         ? "The JSON body of your request is nested deeper than " +
                               std::to_string(max_depth) + " levels."
                         : "We could not parse the JSON body of your request (" +
                               std::string(simdjson::error_message(err)) +
                               "). The API expects a JSON object.",
                     ""};
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS)
    return BodyError{"The request body must be a JSON object.", ""};
  // The engine reads the body again, and JSON parsers differ on a repeated key (Python keeps the
  // last, simdjson's at_key finds the first), which may also be spelled with escapes
  // ("mod\u0065l") or hold a non-string: one "model" and one "stream", or the engine could serve
  // a model other than the one resolved here (e.g. another tenant's adapter id).
  int models = 0;
  int streams = 0;
  for (auto field : object) {
    models += field.key == "model" ? 1 : 0;
    streams += field.key == "stream" ? 1 : 0;
  }
  if (models > 1) return BodyError{"'model' is given more than once", "model"};
  if (streams > 1) return BodyError{"'stream' is given more than once", "stream"};
  simdjson::dom::element model;
  std::string_view text;
  if (object.at_key("model").get(model) != simdjson::SUCCESS || model.is_null())
    return BodyError{"you must provide a model parameter", "model"};
  if (model.get_string().get(text) != simdjson::SUCCESS || text.empty())
    return BodyError{"'model' must be a non-empty string", "model"};
  out.model = std::string(text);
  simdjson::dom::element stream;
  out.stream = false;
  if (object.at_key("stream").get(stream) == simdjson::SUCCESS && !stream.is_null() &&
      stream.get_bool().get(out.stream) != simdjson::SUCCESS)
    return BodyError{"'stream' must be a boolean", "stream"};
  bool duplicate = false;
  auto span = find_model(body, &duplicate);
  if (duplicate) return BodyError{"'model' is given more than once", "model"};
  // simdjson found the key, so only an escaped spelling of "model" can hide it from the scanner.
  if (!span) return BodyError{"'model' must be spelled without escapes", "model"};
  out.span = *span;
  return std::nullopt;
}

}  // namespace loraplane::gateway::inference
