// Response bodies in the shapes vLLM's OpenAI server writes them (pydantic models of
// vllm/entrypoints/openai/protocol.py, with the same null fields), and vLLM's error body.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/http.hpp"

namespace loraplane::sim_engine {

// {"error":{"message","type","param","code":<status>}} — vLLM's ErrorResponse; `code` is the
// HTTP status as an integer.
http::Response vllm_error(http::Status status, std::string_view type, std::string_view message,
                          std::optional<std::string_view> param = std::nullopt);

// vLLM's 400 (BadRequestError), and its 404 for a model it does not serve (param "model").
http::Response vllm_bad_request(std::string_view message,
                                std::optional<std::string_view> param = std::nullopt);
http::Response vllm_model_not_found(std::string_view model);

struct Usage {
  std::uint32_t prompt_tokens = 0;
  std::uint32_t completion_tokens = 0;
};

struct ResponseHead {
  std::string id;  // chatcmpl-<hex> / cmpl-<hex>
  std::int64_t created = 0;
  std::string model;  // as the client named it
};

std::string chat_response(const ResponseHead& head, std::string_view text,
                          std::string_view finish_reason, const Usage& usage);
// One chat.completion.chunk: `role` only on the first; `finish_reason` only on the last;
// `usage` with stream_options.continuous_usage_stats.
std::string chat_chunk(const ResponseHead& head, std::optional<std::string_view> role,
                       std::string_view content, std::optional<std::string_view> finish_reason,
                       const std::optional<Usage>& usage);

std::string completion_response(const ResponseHead& head, std::string_view text,
                                std::string_view finish_reason, const Usage& usage);
std::string completion_chunk(const ResponseHead& head, std::string_view text,
                             std::optional<std::string_view> finish_reason,
                             const std::optional<Usage>& usage);

// The last chunk when stream_options.include_usage: no choices, the totals.
std::string usage_chunk(const ResponseHead& head, std::string_view object, const Usage& usage);

}  // namespace loraplane::sim_engine
