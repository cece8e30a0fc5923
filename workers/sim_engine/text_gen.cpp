#include "workers/sim_engine/text_gen.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>

namespace loraplane::sim_engine {

namespace {

constexpr std::array<std::string_view, 64> kWords{
    "the",     "adapter", "model",   "answers", "quietly", "with",    "a",       "small",
    "river",   "of",      "words",   "that",    "flow",    "through", "every",   "layer",
    "rank",    "eight",   "weights", "learn",   "to",      "bend",    "light",   "toward",
    "meaning", "and",     "time",    "while",   "tokens",  "arrive",  "one",     "by",
    "steady",  "stream",  "under",   "bright",  "GPU",     "lamps",   "in",      "batches",
    "wait",    "patient", "queues",  "swap",    "memory",  "fast",    "slow",    "cache",
    "warm",    "cold",    "north",   "wind",    "carries", "simple",  "stories", "across",
    "green",   "fields",  "where",   "engines", "hum",     "softly",  "at",      "night"};

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void fnv1a(std::uint64_t& h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= 0xff;  // field separator
  h *= 0x100000001b3ULL;
}

}  // namespace

std::uint64_t text_seed(std::uint64_t engine_seed, std::string_view model, std::string_view prompt,
                        std::optional<std::int64_t> request_seed) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  fnv1a(h, std::to_string(engine_seed));
  fnv1a(h, model);
  fnv1a(h, prompt);
  fnv1a(h, request_seed ? std::to_string(*request_seed) : std::string("-"));
  return h;
}

std::uint32_t natural_length(std::uint64_t seed) {
  std::uint64_t state = seed ^ 0x5eed;
  return 8 + static_cast<std::uint32_t>(splitmix64(state) % 56);
}

TextPlan plan_text(std::uint64_t seed, std::uint32_t max_tokens, bool ignore_eos) {
  const std::uint32_t natural = ignore_eos ? UINT32_MAX : natural_length(seed);
  const std::uint32_t n = std::min(natural, max_tokens);
  TextPlan plan;
  plan.finish_reason = n < natural ? "length" : "stop";
  plan.tokens.reserve(n);
  std::uint64_t state = seed;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string token = i == 0 ? "" : " ";
    token += kWords[splitmix64(state) % kWords.size()];
    if (i + 1 == natural || splitmix64(state) % 11 == 0) token += '.';
    plan.tokens.push_back(std::move(token));
  }
  return plan;
}

std::vector<float> plan_embedding(std::uint64_t seed, std::size_t dim) {
  std::vector<float> v(dim);
  std::uint64_t state = seed;
  double norm = 0;
  for (auto& x : v) {  // uniform in [-1, 1), then scaled to unit length
    x = static_cast<float>(static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53 * 2 - 1);
    norm += static_cast<double>(x) * x;
  }
  norm = std::sqrt(norm);
  if (norm > 0)
    for (auto& x : v) x = static_cast<float>(x / norm);
  return v;
}

std::uint32_t count_tokens(std::string_view text) {
  std::uint32_t words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

}  // namespace loraplane::sim_engine
