// The one field the gateway changes in inference bodies: the top-level "model". Requests are
// checked with simdjson (valid JSON object, `model` a string, `stream` a boolean) and the
// model's bytes located by a small scanner, so the body is forwarded unchanged apart from that
// value; responses and SSE chunks get the caller's model back the same way.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace loraplane::gateway::inference {

// Byte range of the top-level "model" value, quotes included.
struct ModelSpan {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// Scans a JSON object's top level for "model" with a string value. nullopt when the text is not
// an object or has no such key; `duplicate` is set when the key appears more than once.
std::optional<ModelSpan> find_model(std::string_view json, bool* duplicate = nullptr);

// `json` with the span replaced by `model` as a JSON string.
std::string replace_model(std::string_view json, ModelSpan span, std::string_view model);
// Same, locating the span first; `json` unchanged when it has no top-level model string.
std::string rewrite_model(std::string_view json, std::string_view model);

// `text` as a quoted JSON string.
std::string json_quote(std::string_view text);

struct InferenceBody {
  std::string model;
  bool stream = false;
  ModelSpan span;
};

// What is wrong with a request body, for a 400 (param names the field at fault, or is empty).
struct BodyError {
  std::string message;
  std::string param;
};

// Checks the body and fills `out`; the error to answer otherwise.
std::optional<BodyError> parse_inference_body(std::string_view body, InferenceBody& out,
                                              std::size_t max_depth = 64);

}  // namespace loraplane::gateway::inference
