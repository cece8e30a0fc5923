// multipart/form-data parser: framing, headers, limits, and the same result whatever way the
// body is split into chunks (every split of small bodies, random splits of mutated ones).
#define BOOST_TEST_MODULE multipart
#include "common/multipart.hpp"

#include <boost/test/unit_test.hpp>
#include <random>

using namespace loraplane;

namespace {

constexpr std::string_view kBoundary = "----loraplane7MA4YWxkTrZu0gW";

// Records callbacks as text so two runs can be compared.
struct Recorder {
  std::vector<std::string> events;
  std::string data;
  std::size_t max_chunk = 0;

  MultipartCallbacks callbacks() {
    return {
        [this](const MultipartPart& p) {
          flush();
          events.push_back("begin name=" + p.name + " filename=" +
                           (p.filename ? "\"" + *p.filename + "\"" : std::string("-")) +
                           " type=" + p.content_type);
          return Status{};
        },
        [this](std::string_view chunk) {
          data.append(chunk);
          max_chunk = std::max(max_chunk, chunk.size());
          return Status{};
        },
        [this]() {
          flush();
          events.push_back("end");
          return Status{};
        },
    };
  }
  void flush() {
    if (!data.empty()) events.push_back("data " + std::exchange(data, {}));
  }
};

struct Outcome {
  std::vector<std::string> events;
  std::optional<std::string> error;

  // After an error, how much data was passed on before it depends on the chunking (a field
  // over its limit fails on the chunk that crosses it): compare everything but the data then.
  bool operator==(const Outcome& other) const {
    if (error != other.error) return false;
    if (!error) return events == other.events;
    return without_data() == other.without_data();
  }
  std::vector<std::string> without_data() const {
    std::vector<std::string> out;
    for (const auto& e : events) {
      if (!e.starts_with("data ")) out.push_back(e);
    }
    return out;
  }
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  for (const auto& e : o.events) os << "[" << e << "]";
  return os << " error=" << o.error.value_or("none");
}

Outcome run(std::string_view body, const std::vector<std::size_t>& cuts = {},
            MultipartLimits limits = {}, std::string_view boundary = kBoundary) {
  Recorder rec;
  MultipartParser parser(boundary, rec.callbacks(), limits);
  Outcome out;
  std::size_t start = 0;
  auto fed = [&](std::string_view chunk) {
    auto status = parser.feed(chunk);
    if (!status.ok() && !out.error) out.error = status.error().message;
  };
  for (std::size_t cut : cuts) {
    fed(body.substr(start, cut - start));
    start = cut;
  }
  fed(body.substr(start));
  if (!out.error) {
    auto status = parser.finish();
    if (!status.ok()) out.error = status.error().message;
  }
  rec.flush();
  out.events = rec.events;
  return out;
}

std::string part(std::string_view headers, std::string_view data, std::string_view b = kBoundary) {
  return "--" + std::string(b) + "\r\n" + std::string(headers) + "\r\n\r\n" + std::string(data) +
         "\r\n";
}

std::string close(std::string_view b = kBoundary) { return "--" + std::string(b) + "--\r\n"; }

std::string field(std::string_view name, std::string_view value) {
  return part("Content-Disposition: form-data; name=\"" + std::string(name) + "\"", value);
}

std::string file(std::string_view name, std::string_view filename, std::string_view data) {
  return part("Content-Disposition: form-data; name=\"" + std::string(name) + "\"; filename=\"" +
                  std::string(filename) + "\"\r\nContent-Type: application/octet-stream",
              data);
}

// Binary-ish data full of near-boundaries.
std::string tricky_data() {
  const std::string b(kBoundary);
  return "\r\n-" + b + "\r\r\n--" + b.substr(0, 10) + "\n--" + b + "--" + b + "\r\n-\r\n--" +
         std::string("\0\xff\r", 3) + "\r\n--" + b.substr(0, b.size() - 1) + "\r";
}

std::string sample_body() {
  return field("name", "my-adapter") + field("base_model", "toy-llama") +
         file("file", "adapter_model.safetensors", tricky_data()) + close();
}

const Outcome& sample_outcome() {
  static const Outcome expected{
      {"begin name=name filename=- type=", "data my-adapter", "end",
       "begin name=base_model filename=- type=", "data toy-llama", "end",
       "begin name=file filename=\"adapter_model.safetensors\" type=application/octet-stream",
       "data " + tricky_data(), "end"},
      std::nullopt};
  return expected;
}

bool error_contains(const Outcome& o, std::string_view text) {
  if (!o.error) BOOST_TEST_MESSAGE("no error: " << o);
  return o.error && o.error->find(text) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(parses_fields_and_a_file) {
  BOOST_TEST(run(sample_body()) == sample_outcome());
}

BOOST_AUTO_TEST_CASE(every_single_split_gives_the_same_result) {
  const std::string body = sample_body();
  for (std::size_t i = 0; i <= body.size(); ++i) {
    BOOST_REQUIRE_MESSAGE(run(body, {i}) == sample_outcome(), "split at " << i);
  }
}

BOOST_AUTO_TEST_CASE(every_double_split_of_a_small_body) {
  const std::string body = field("a", "x\r\n--y") + file("f", "", "\r\n--") + close();
  const Outcome expected = run(body);
  BOOST_REQUIRE(!expected.error);
  for (std::size_t i = 0; i <= body.size(); ++i) {
    for (std::size_t j = i; j <= body.size(); ++j) {
      BOOST_REQUIRE_MESSAGE(run(body, {i, j}) == expected, "splits at " << i << ", " << j);
    }
  }
}

BOOST_AUTO_TEST_CASE(one_byte_at_a_time) {
  const std::string body = sample_body();
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < body.size(); ++i) cuts.push_back(i);
  BOOST_TEST(run(body, cuts) == sample_outcome());
}

BOOST_AUTO_TEST_CASE(boundary_lookalikes_are_data) {
  const std::string b(kBoundary);
  for (const std::string& data : {"--" + b, "\r\n--" + b.substr(0, 5), "\r\n-" + b, "\r--" + b,
                                  "\n--" + b, "x\r\n--" + b.substr(1), std::string("\r\r\r\n\r\n-"),
                                  std::string(1, '\r'), std::string(2, '\r')}) {
    const Outcome o = run(file("f", "a", data) + close());
    BOOST_REQUIRE(!o.error);
    BOOST_TEST(o.events.at(1) == "data " + data);
  }
}

BOOST_AUTO_TEST_CASE(a_full_boundary_followed_by_other_text_is_malformed) {
  // RFC 2046: the delimiter must not begin any line of a part, so this is the sender's error.
  const Outcome o = run(file("f", "a", "\r\n--" + std::string(kBoundary) + "X") + close());
  BOOST_TEST(error_contains(o, "a boundary must be followed by CRLF or \"--\""));
}

BOOST_AUTO_TEST_CASE(preamble_epilogue_and_padding) {
  const std::string b(kBoundary);
  const std::string body = "This is a preamble.\r\n" + field("a", "1") + "--" + b + " \t \r\n" +
                           "Content-Disposition: form-data; name=b\r\n\r\n2\r\n--" + b +
                           "--  \r\nepilogue";
  const Outcome o = run(body);
  BOOST_REQUIRE_MESSAGE(!o.error, o);
  BOOST_TEST(o.events.size() == 6u);
  BOOST_TEST(o.events.at(4) == "data 2");
  BOOST_TEST(!run("\r\n" + field("a", "1") + close()).error);
  MultipartLimits small;
  small.max_preamble = 8;
  BOOST_TEST(
      error_contains(run(std::string(20, 'p') + "\r\n" + field("a", "1") + close(), {}, small),
                     "preamble before the first boundary exceeds 8 bytes"));
  small.max_epilogue = 4;
  BOOST_TEST(error_contains(run(field("a", "1") + close() + "0123456789", {}, small), "epilogue"));
}

BOOST_AUTO_TEST_CASE(fields_are_bounded_unless_the_caller_bounds_them) {
  MultipartLimits small;
  small.max_field_bytes = 8;
  const std::string big(20, 'x');
  BOOST_TEST(error_contains(run(field("file", big) + close(), {}, small),
                            "form field 'file' exceeds 8 bytes"));
  BOOST_TEST(!run(file("file", "w.bin", big) + close(), {}, small).error);  // a filename
  small.caller_bounded = {"file"};
  const Outcome o = run(field("file", big) + close(), {}, small);
  BOOST_REQUIRE_MESSAGE(!o.error, o);
  BOOST_TEST(error_contains(run(field("other", big) + close(), {}, small), "'other' exceeds"));
}

BOOST_AUTO_TEST_CASE(truncated_bodies_are_reported_by_finish) {
  const std::string b(kBoundary);
  BOOST_TEST(
      error_contains(run(field("a", "1") + file("f", "x", "data")), "truncated inside part 'f'"));
  BOOST_TEST(error_contains(run(field("a", "1") + "--" + b), "truncated after a boundary"));
  BOOST_TEST(error_contains(run(field("a", "1") + "--" + b + " "), "truncated after a boundary"));
  BOOST_TEST(error_contains(run(field("a", "1") + "--" + b + "\r"), "truncated after a boundary"));
  BOOST_TEST(error_contains(run(field("a", "1") + "--" + b + "\r\nContent-Disp"),
                            "truncated inside the headers of part 2"));
  BOOST_TEST(error_contains(
      run(field("a", "1") + "--" + b + "\r\nContent-Disposition: form-data; name=f\r\n\r\nda"),
      "truncated inside part 'f'"));
  BOOST_TEST(error_contains(run(field("a", "1") + "--" + b + "-"), "truncated after a boundary"));
  BOOST_TEST(error_contains(run("no boundary at all"), "no boundary line found"));
  BOOST_TEST(error_contains(run(""), "no boundary line found"));
  // The part never ends: no on_part_end for data that was cut off.
  const std::string whole = file("f", "x", "data");
  const Outcome cut = run(whole.substr(0, whole.size() - 2));
  BOOST_TEST(error_contains(cut, "truncated inside part 'f'"));
  BOOST_TEST(cut.events.size() == 2u);
  BOOST_TEST(cut.events.at(1) == "data data");
}

BOOST_AUTO_TEST_CASE(empty_forms_and_empty_parts) {
  const Outcome empty = run(close());
  BOOST_TEST(!empty.error);
  BOOST_TEST(empty.events.empty());
  const Outcome blank = run(field("a", "") + close());
  BOOST_TEST((blank.events == std::vector<std::string>{"begin name=a filename=- type=", "end"}));
}

BOOST_AUTO_TEST_CASE(content_disposition_parameters) {
  auto first_event = [](std::string_view headers) {
    const Outcome o = run(part(headers, "v") + close());
    return o.error ? "error: " + *o.error : o.events.at(0);
  };
  BOOST_TEST(first_event("Content-Disposition: form-data; name=plain") ==
             "begin name=plain filename=- type=");
  BOOST_TEST(first_event("content-disposition:form-data;NAME=\"q\";Filename=\"a b.bin\"") ==
             "begin name=q filename=\"a b.bin\" type=");
  BOOST_TEST(
      first_event("Content-Disposition: form-data; name=\"f\"; filename=\"we\\\"ird\\\\.txt\"") ==
      "begin name=f filename=\"we\"ird\\.txt\" type=");
  BOOST_TEST(first_event("Content-Disposition: form-data; name=f; filename=\"\"") ==
             "begin name=f filename=\"\" type=");
  BOOST_TEST(
      first_event("Content-Disposition: form-data; name=f; filename*=UTF-8''%E2%82%AC.txt") ==
      "begin name=f filename=\"\xE2\x82\xAC.txt\" type=");
  BOOST_TEST(first_event("Content-Disposition: form-data; name=f;\r\nContent-Type: text/plain; "
                         "charset=utf-8\r\nX-Other: 1") ==
             "begin name=f filename=- type=text/plain; charset=utf-8");
  BOOST_TEST(first_event("Content-Disposition: FORM-DATA; name=f ; filename = x.bin ") ==
             "begin name=f filename=\"x.bin\" type=");
}

BOOST_AUTO_TEST_CASE(malformed_part_headers) {
  auto error_of = [](std::string_view headers) {
    const Outcome o = run(part(headers, "v") + close());
    return o.error.value_or("no error");
  };
  BOOST_TEST(error_of("Content-Type: text/plain").find("no Content-Disposition") !=
             std::string::npos);
  BOOST_TEST(error_of("Content-Disposition: attachment; name=a").find("must be form-data") !=
             std::string::npos);
  BOOST_TEST(error_of("Content-Disposition: form-data").find("has no name") != std::string::npos);
  BOOST_TEST(error_of("Content-Disposition: form-data; name=\"\"").find("has no name") !=
             std::string::npos);
  BOOST_TEST(
      error_of("Content-Disposition: form-data; name=a; name=b").find("more than one name") !=
      std::string::npos);
  BOOST_TEST(error_of("Content-Disposition: form-data; name=\"a").find("unterminated") !=
             std::string::npos);
  BOOST_TEST(error_of("Content-Disposition: form-data; name").find("name=value") !=
             std::string::npos);
  BOOST_TEST(error_of("Content-Disposition: form-data; name=a b").find("expected ';'") !=
             std::string::npos);
  BOOST_TEST(
      error_of("Content-Disposition: form-data; name=a; filename*=latin1''x").find("filename*") !=
      std::string::npos);
  BOOST_TEST(
      error_of("Content-Disposition: form-data; name=a; filename*=UTF-8''%4").find("filename*") !=
      std::string::npos);
  BOOST_TEST(error_of(" Content-Disposition: form-data; name=a").find("folded") !=
             std::string::npos);
  BOOST_TEST(error_of("Content-Disposition: form-data;\r\n name=a").find("folded") !=
             std::string::npos);
  BOOST_TEST(error_of("Content-Disposition form-data; name=a").find("malformed part header line") !=
             std::string::npos);
  BOOST_TEST(error_of("Bad Name: x\r\nContent-Disposition: form-data; name=a").find("malformed") !=
             std::string::npos);
  BOOST_TEST(error_of("Content-Disposition: form-data; name=a\nX: y").find("control character") !=
             std::string::npos);
  BOOST_TEST(
      error_of("Content-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=b")
          .find("two Content-Disposition") != std::string::npos);
  BOOST_TEST(
      error_of("Content-Disposition: form-data; name=a\r\nContent-Type: a\r\nContent-Type: b")
          .find("two Content-Type") != std::string::npos);
  const Outcome empty_headers = run("--" + std::string(kBoundary) + "\r\n\r\nv\r\n" + close());
  BOOST_TEST(error_contains(empty_headers, "no Content-Disposition"));
  BOOST_TEST(error_contains(run("--" + std::string(kBoundary) + "\rX"), "must end in CRLF"));
  BOOST_TEST(
      error_contains(run("--" + std::string(kBoundary) + "-X"), "followed by CRLF or \"--\""));
}

BOOST_AUTO_TEST_CASE(header_block_limit) {
  const std::string filler = "X-Filler: " + std::string(16 * 1024, 'a');
  const Outcome o = run(part("Content-Disposition: form-data; name=a\r\n" + filler, "v") + close());
  BOOST_TEST(error_contains(o, "headers of part 1 exceed 16384 bytes"));
  const std::string fits = "X-Filler: " + std::string(16 * 1024 - 100, 'a');
  BOOST_TEST(!run(part("Content-Disposition: form-data; name=a\r\n" + fits, "v") + close()).error);
  // A header block that never ends is cut off at the limit, not buffered.
  Recorder rec;
  MultipartParser parser(kBoundary, rec.callbacks());
  BOOST_REQUIRE(parser.feed("--" + std::string(kBoundary) + "\r\n").ok());
  const auto status = parser.feed(std::string(100 * 1024, 'h'));
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST((status.error().code == Errc::limit_exceeded));
}

BOOST_AUTO_TEST_CASE(part_count_limit) {
  std::string sixteen;
  for (int i = 0; i < 16; ++i) sixteen += field("f" + std::to_string(i), "v");
  BOOST_TEST(!run(sixteen + close()).error);
  const Outcome o = run(sixteen + field("f16", "v") + close());
  BOOST_TEST(error_contains(o, "more than 16 parts"));
}

BOOST_AUTO_TEST_CASE(field_size_limit_applies_to_fields_not_files) {
  const std::string big(1024 * 1024 + 1, 'v');
  BOOST_TEST(error_contains(run(field("config", big) + close()),
                            "form field 'config' exceeds 1048576 bytes"));
  BOOST_TEST(!run(field("config", big.substr(1)) + close()).error);
  // A file part of 8 MiB passes through in the chunks it arrived in: nothing accumulates.
  Recorder rec;
  std::size_t total = 0;
  MultipartCallbacks cb = rec.callbacks();
  cb.on_part_data = [&](std::string_view chunk) {
    total += chunk.size();
    rec.max_chunk = std::max(rec.max_chunk, chunk.size());
    return Status{};
  };
  MultipartParser parser(kBoundary, cb);
  const std::string head = "--" + std::string(kBoundary) +
                           "\r\nContent-Disposition: form-data; name=file; filename=a\r\n\r\n";
  BOOST_REQUIRE(parser.feed(head).ok());
  const std::string chunk(64 * 1024, '\r');
  for (int i = 0; i < 128; ++i) BOOST_REQUIRE(parser.feed(chunk).ok());
  BOOST_REQUIRE(parser.feed("\r\n" + close()).ok());
  BOOST_REQUIRE(parser.finish().ok());
  BOOST_TEST(total == 128u * chunk.size());
  BOOST_TEST(rec.max_chunk <= chunk.size());
}

BOOST_AUTO_TEST_CASE(callback_errors_stop_the_parse) {
  MultipartCallbacks cb;
  cb.on_part_begin = [](const MultipartPart& p) {
    return p.name == "file" ? Status(make_error(Errc::invalid_argument, "bad header")) : Status{};
  };
  MultipartParser parser(kBoundary, cb);
  const std::string body = sample_body();
  const auto status = parser.feed(body);
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST(status.error().message == "bad header");
  BOOST_TEST(parser.feed("more").error().message == "bad header");
  BOOST_TEST(parser.finish().error().message == "bad header");
  BOOST_TEST(parser.parts() == 3u);
}

BOOST_AUTO_TEST_CASE(boundary_from_content_type_rules) {
  BOOST_TEST(boundary_from_content_type("multipart/form-data; boundary=abc").value_or("") == "abc");
  BOOST_TEST(boundary_from_content_type("Multipart/Form-Data;BOUNDARY=\"a b:c\"").value_or("") ==
             "a b:c");
  BOOST_TEST(
      boundary_from_content_type("multipart/form-data; charset=utf-8; boundary=x-y").value_or("") ==
      "x-y");
  BOOST_TEST(boundary_from_content_type("multipart/form-data; boundary=" + std::string(70, 'b'))
                 .has_value());
  for (const std::string& bad : std::vector<std::string>{
           "multipart/form-data", "multipart/mixed; boundary=abc", "application/json",
           "multipart/form-data; boundary=", "multipart/form-data; boundary=\"abc \"",
           "multipart/form-data; boundary=" + std::string(71, 'b'),
           "multipart/form-data; boundary=a\"b", "multipart/form-data; boundary=a; boundary=b",
           "multipart/form-data; boundary=\"a\rb\"", "multipart/form-data; boundary=a{b"}) {
    BOOST_TEST(!boundary_from_content_type(bad).has_value(), bad);
  }
  BOOST_CHECK_THROW(MultipartParser("a\r\nb", {}), std::invalid_argument);
  BOOST_CHECK_THROW(MultipartParser("", {}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(short_boundaries_work_too) {
  const std::string body =
      part("Content-Disposition: form-data; name=a", "--\r\n-x", "x") + close("x");
  const Outcome o = run(body, {}, {}, "x");
  BOOST_REQUIRE_MESSAGE(!o.error, o);
  BOOST_TEST(o.events.at(1) == "data --\r\n-x");
}

// Mutated bodies: whatever the bytes, the outcome (events and error) does not depend on how
// the body is split, and nothing crashes (this runs under ASan/UBSan too).
BOOST_AUTO_TEST_CASE(mutated_bodies_are_split_invariant) {
  std::mt19937 rng(7578);
  const std::string base = sample_body();
  const std::string alphabet = std::string("\r\n-\"; =:") + std::string(kBoundary);
  for (int round = 0; round < 3000; ++round) {
    std::string body = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % (body.size() + 1);
      switch (rng() % 3) {
        case 0:
          body.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 1:
          if (at < body.size()) body.erase(at, 1 + rng() % 8);
          break;
        default:
          if (at < body.size()) body[at] = static_cast<char>(rng());
          break;
      }
    }
    const Outcome whole = run(body);
    std::vector<std::size_t> cuts;
    for (std::size_t at = rng() % 7; at < body.size(); at += 1 + rng() % 40) cuts.push_back(at);
    BOOST_REQUIRE_MESSAGE(run(body, cuts) == whole, "round " << round);
  }
}
