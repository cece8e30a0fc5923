// The parts of an OpenAI chat/completions or completions request body the simulator acts on,
// parsed with the checks vLLM's protocol models apply (same 400s for the same mistakes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace loraplane::sim_engine {

enum class Api { chat, completion };

struct InferenceRequest {
  Api api = Api::chat;
  std::string model;   // as sent; empty = the base model
  std::string prompt;  // canonical text the output is derived from
  std::uint32_t prompt_tokens = 0;
  std::optional<std::uint32_t> max_tokens;  // chat: max_completion_tokens, else max_tokens
  bool stream = false;
  bool include_usage = false;     // stream_options.include_usage
  bool continuous_usage = false;  // stream_options.continuous_usage_stats
  std::optional<std::int64_t> seed;
  bool echo = false;        // completions: prompt + completion in the text
  bool ignore_eos = false;  // vLLM extra: generate exactly max_tokens
};

// Errc::invalid_argument with the message for the 400 body.
Result<InferenceRequest> parse_chat_request(std::string_view body, std::size_t max_bytes);
Result<InferenceRequest> parse_completion_request(std::string_view body, std::size_t max_bytes);

}  // namespace loraplane::sim_engine
