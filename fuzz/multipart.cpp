// multipart/form-data: boundary_from_content_type and MultipartParser.
// Input: a Content-Type value, '\n', then the body. The body is parsed whole, one byte at a
// time and in pseudo-random chunks; the callbacks must see the same parts, headers and data
// (after an error: the same error and parts), every limit must hold, and a boundary the
// Content-Type parser accepts must be one the parser's constructor accepts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/multipart.hpp"
#include "fuzz/invariant.hpp"

using namespace loraplane;

namespace {

constexpr std::string_view kFallbackBoundary = "----fuzzB0undary";

using loraplane::fuzz::fail;

struct Outcome {
  std::vector<std::string> events;  // "begin ...", "data ...", "end"
  std::optional<std::string> error;
  std::size_t parts = 0;

  std::vector<std::string> without_data() const {
    std::vector<std::string> out;
    for (const auto& e : events)
      if (!e.starts_with("data ")) out.push_back(e);
    return out;
  }
};

struct Recorder {
  Outcome out;
  std::string data;
  std::size_t part_bytes = 0;
  bool field = false;
  bool open = false;
  const MultipartLimits* limits = nullptr;
  bool stop_at_named_stop = false;

  void flush() {
    if (!data.empty()) out.events.push_back("data " + std::exchange(data, {}));
  }
  MultipartCallbacks callbacks() {
    return {
        [this](const MultipartPart& p) -> Status {
          if (open) fail("on_part_begin while a part is open");
          flush();
          open = true;
          field = !p.filename.has_value();
          part_bytes = 0;
          if (p.name.empty()) fail("part with an empty name");
          out.events.push_back("begin name=" + p.name + " filename=" +
                               (p.filename ? "\"" + *p.filename + "\"" : std::string("-")) +
                               " type=" + p.content_type);
          if (stop_at_named_stop && p.name == "stop")
            return make_error(Errc::invalid_argument, "stopped by the callback");
          return {};
        },
        [this](std::string_view chunk) -> Status {
          if (!open) fail("on_part_data outside a part");
          if (chunk.empty()) fail("on_part_data with no bytes");
          part_bytes += chunk.size();
          if (field && part_bytes > limits->max_field_bytes) fail("field data past its limit");
          data.append(chunk);
          return {};
        },
        [this]() -> Status {
          if (!open) fail("on_part_end without a part");
          open = false;
          flush();
          out.events.push_back("end");
          return {};
        },
    };
  }
};

Outcome run(std::string_view boundary, std::string_view body, const MultipartLimits& limits,
            bool stop, const std::vector<std::size_t>& sizes) {
  Recorder rec;
  rec.limits = &limits;
  rec.stop_at_named_stop = stop;
  MultipartParser parser(boundary, rec.callbacks(), limits);
  std::optional<std::string> error;
  std::size_t at = 0;
  std::size_t i = 0;
  while (at < body.size() && !error) {
    const std::size_t n = sizes.empty() ? body.size() : sizes[i++ % sizes.size()];
    auto status = parser.feed(body.substr(at, n));
    at += std::min(n, body.size() - at);
    if (!status) error = status.error().message;
  }
  if (error) {
    // Every later call repeats the first error.
    auto again = parser.feed("x");
    if (again || again.error().message != *error) fail("feed after an error did not repeat it");
    auto finished = parser.finish();
    if (finished || finished.error().message != *error) fail("finish after an error differs");
  } else if (auto status = parser.finish(); !status) {
    error = status.error().message;
  } else if (rec.open) {
    fail("finish succeeded with a part still open");
  }
  if (parser.parts() > limits.max_parts) fail("more parts than max_parts");
  rec.flush();
  rec.out.error = error;
  rec.out.parts = parser.parts();
  return rec.out;
}

void same(const Outcome& a, const Outcome& b) {
  if (a.error != b.error) {
    std::fprintf(stderr, "error: '%s' vs '%s'\n", a.error.value_or("none").c_str(),
                 b.error.value_or("none").c_str());
    fail("chunking changed the error");
  }
  // After an error, how much data went through before it depends on the chunking.
  if (a.error ? a.without_data() != b.without_data() : a.events != b.events)
    fail("chunking changed the parts or their data");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  const std::string_view content_type = input.substr(0, eol);
  const std::string_view body = input.substr(eol + 1);

  const auto parsed = boundary_from_content_type(content_type);
  if (parsed && (parsed->empty() || parsed->size() > 70)) fail("boundary length out of 1-70");
  const std::string boundary = parsed.value_or(std::string(kFallbackBoundary));

  // The Content-Type's length picks the limits and whether a part named "stop" is refused by
  // the callback: cheap to vary, and the seeds cover each choice.
  MultipartLimits limits;
  if (content_type.size() % 2 == 1) {
    limits.max_header_block = 128;
    limits.max_parts = 3;
    limits.max_field_bytes = 16;
    limits.max_preamble = 16;
    limits.max_epilogue = 16;
  }
  const bool stop = content_type.size() % 3 == 0;

  const Outcome whole = run(boundary, body, limits, stop, {});
  same(whole, run(boundary, body, limits, stop, {1}));
  std::vector<std::size_t> sizes;
  std::uint32_t x = static_cast<std::uint32_t>(size) * 2654435761u + 1;
  for (int i = 0; i < 8; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    sizes.push_back(1 + x % (boundary.size() + 8));
  }
  same(whole, run(boundary, body, limits, stop, sizes));
  return 0;
}
