// The bodies of POST /v1/chat/completions, /v1/completions and /v1/embeddings as the gateway
// reads them: parse_inference_body, find_model, replace_model / rewrite_model, json_quote.
// Input: the request body.
// Invariants: an accepted body's span holds exactly the model simdjson read; after the gateway
// puts the upstream model into that span, the body is still one JSON object in which every
// top-level "model" key (however escaped) has the new value and every "stream" key the value
// the gateway acted on, so an engine that keeps the first or the last duplicate key sees what
// the gateway resolved; the rewrite parses back the same way. Any text survives rewrite_model.
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/invariant.hpp"
#include "gateway/inference/model_field.hpp"

namespace inf = loraplane::gateway::inference;

namespace {

using loraplane::fuzz::fail;

constexpr std::string_view kUpstream = "llama-3.1-8b-instruct:adp_0fuzz0000000\"\\\n";

// Every top-level key equal to `key` after unescaping, in an object document.
template <class Check>
void each_key(simdjson::dom::object object, std::string_view key, Check check) {
  for (auto field : object)
    if (field.key == key) check(field.value);
}

void check_rewritten(std::string_view original, const inf::InferenceBody& body) {
  const std::string rewritten = inf::replace_model(original, body.span, kUpstream);
  if (rewritten != inf::rewrite_model(original, kUpstream)) fail("rewrite_model differs");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(rewritten).get(root) != simdjson::SUCCESS) fail("rewritten body is not JSON");
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) fail("rewritten body not an object");
  int models = 0;
  each_key(object, "model", [&](simdjson::dom::element v) {
    ++models;
    std::string_view text;
    if (v.get_string().get(text) != simdjson::SUCCESS || text != kUpstream)
      fail("a top-level model key of the rewritten body is not the upstream model");
  });
  if (models != 1) fail("rewritten body has not exactly one model key");
  each_key(object, "stream", [&](simdjson::dom::element v) {
    bool flag = false;
    if (v.is_null()) return;
    if (v.get_bool().get(flag) != simdjson::SUCCESS || flag != body.stream)
      fail("a top-level stream key differs from the one the gateway acted on");
  });
  inf::InferenceBody again;
  if (auto bad = inf::parse_inference_body(rewritten, again)) {
    std::fprintf(stderr, "%s\n", bad->message.c_str());
    fail("rewritten body is refused");
  }
  if (again.model != kUpstream || again.stream != body.stream) fail("rewritten body reads back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // Responses go through rewrite_model without a parse first: any text must be safe.
  bool duplicate = false;
  if (auto span = inf::find_model(input, &duplicate)) {
    if (span->begin >= span->end || span->end > size) fail("find_model span out of bounds");
    if (input[span->begin] != '"' || input[span->end - 1] != '"') fail("span not a string");
  }
  (void)inf::rewrite_model(input, "m");

  inf::InferenceBody body;
  if (auto bad = inf::parse_inference_body(input, body)) {
    if (bad->message.empty()) fail("refusal without a message");
    return 0;
  }
  if (body.model.empty()) fail("accepted an empty model");
  if (body.span.begin >= body.span.end || body.span.end > size) fail("span out of bounds");
  // The span's bytes, read as a JSON string, are the model the gateway resolves.
  simdjson::dom::parser parser;
  std::string_view text;
  const std::string quoted(input.substr(body.span.begin, body.span.end - body.span.begin));
  if (parser.parse(quoted).get_string().get(text) != simdjson::SUCCESS || text != body.model)
    fail("the span does not hold the model that was read");
  check_rewritten(input, body);
  return 0;
}
