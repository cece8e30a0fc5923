// The simulated model's output: a deterministic function of (engine seed, model, prompt,
// request seed), so tests and benchmarks can assert on it, and different adapters visibly
// answer differently. A "token" is one word; prompts are counted the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loraplane::sim_engine {

struct TextPlan {
  std::vector<std::string> tokens;  // concatenated, they are the completion text
  std::string finish_reason;        // "length" when max_tokens cut it, else "stop"
};

std::uint64_t text_seed(std::uint64_t engine_seed, std::string_view model, std::string_view prompt,
                        std::optional<std::int64_t> request_seed);

// The text the model "wants" to say is 8–63 tokens; max_tokens cuts it (finish "length").
// With ignore_eos (vLLM's extra parameter, as benchmarks use it) it runs to max_tokens.
TextPlan plan_text(std::uint64_t seed, std::uint32_t max_tokens, bool ignore_eos = false);
// Tokens the model would end on by itself for this seed (max_tokens unset in a chat request).
std::uint32_t natural_length(std::uint64_t seed);

// An embedding model's answer for `seed`: `dim` floats of unit length.
std::vector<float> plan_embedding(std::uint64_t seed, std::size_t dim);

// Whitespace-separated words, at least 1 for a non-empty text.
std::uint32_t count_tokens(std::string_view text);

}  // namespace loraplane::sim_engine
