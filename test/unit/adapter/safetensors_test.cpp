// safetensors header: every rule of the format (prefix, JSON, dtypes, offsets, sizes, names,
// metadata, file size) and the incremental reader fed in every kind of split.
#define BOOST_TEST_MODULE adapter
#include "schema/adapter/safetensors.hpp"

#include <boost/test/unit_test.hpp>
#include <random>

#include "test/unit/adapter/fixtures.hpp"

using namespace loraplane;
using namespace loraplane::adapter;
using namespace loraplane::adapter::testing;

namespace {

constexpr std::string_view kQ = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";

std::string error_of(std::string_view bytes, std::uint64_t max = kDefaultMaxHeaderBytes) {
  return invalid_message(parse_safetensors_header(bytes, max));
}

std::string one_tensor(std::string_view body) {
  return frame("{\"" + std::string(kQ) + "\":" + std::string(body) + "}");
}

std::vector<TensorSpec> toy_tensors() { return lora_tensors(toy_llama(), LoraSpec{.rank = 4}); }

}  // namespace

BOOST_AUTO_TEST_CASE(parses_a_valid_adapter_header) {
  const auto tensors = toy_tensors();
  const std::string file = file_bytes(tensors);
  auto header = parse_safetensors_header(file);
  BOOST_REQUIRE_MESSAGE(header.ok(), why(header));
  BOOST_TEST(header->tensors.size() == tensors.size());
  BOOST_TEST(header->header_length == header_json(tensors).size());
  BOOST_TEST(header->data_length == data_bytes(tensors));
  BOOST_TEST(header->file_size() == file.size());
  BOOST_REQUIRE(header->metadata.size() == 1u);
  BOOST_TEST(header->metadata[0].first == "format");
  BOOST_TEST(header->metadata[0].second == "pt");
  const auto& first = header->tensors.front();
  BOOST_TEST(first.name == std::string(kQ));
  BOOST_TEST(first.dtype == "BF16");
  BOOST_TEST((first.shape == std::vector<std::uint64_t>{4, 64}));
  BOOST_TEST(first.begin == 0u);
  BOOST_TEST(first.end == 4u * 64 * 2);
  BOOST_TEST(check_file_size(*header, file.size()).ok());
}

BOOST_AUTO_TEST_CASE(tensors_come_out_sorted_by_offset) {
  const std::string json = R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                           R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  auto header = parse_safetensors_header(frame(json));
  BOOST_REQUIRE(header.ok());
  BOOST_TEST(header->tensors[0].name == "a");
  BOOST_TEST(header->tensors[1].name == "b");
  BOOST_TEST(header->data_length == 8u);
}

BOOST_AUTO_TEST_CASE(accepts_empty_header_scalars_zero_size_and_padding) {
  auto empty = parse_safetensors_header(frame("{}"));
  BOOST_REQUIRE(empty.ok());
  BOOST_TEST(empty->tensors.empty());
  BOOST_TEST(empty->file_size() == 10u);
  const std::string json = R"(  {"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                           R"("z":{"dtype":"F16","shape":[0,4],"data_offsets":[4,4]}}      )";
  auto header = parse_safetensors_header(frame(json));
  BOOST_REQUIRE_MESSAGE(header.ok(), why(header));
  BOOST_TEST(header->data_length == 4u);
}

BOOST_AUTO_TEST_CASE(extra_tensor_keys_are_ignored_like_the_reference_reader) {
  auto header = parse_safetensors_header(
      one_tensor(R"({"dtype":"U8","shape":[2],"data_offsets":[0,2],"note":"x"})"));
  BOOST_TEST(header.ok());
}

BOOST_AUTO_TEST_CASE(rejects_bad_length_prefixes) {
  BOOST_TEST(contains(error_of("1234567"), "shorter than the 8-byte length prefix"));
  BOOST_TEST(contains(error_of(le64(100'000'001) + "{}"), "100000000"));
  BOOST_TEST(contains(error_of(le64(20'000'000) + "{}"), "our limit of 16777216"));
  BOOST_TEST(contains(error_of(le64(5000) + "{}", 1000), "our limit of 1000"));
  BOOST_TEST(contains(error_of(le64(100) + "{}"), "runs past the end"));
  BOOST_TEST(contains(error_of(le64(1) + "{"), "too short"));
  BOOST_TEST(contains(error_of(le64(0)), "too short"));
  BOOST_TEST(contains(error_of(le64(~std::uint64_t{0}) + "{}"), "100000000"));
}

BOOST_AUTO_TEST_CASE(rejects_bad_json) {
  BOOST_TEST(contains(error_of(frame("{\"a\":")), "invalid JSON"));
  BOOST_TEST(contains(error_of(frame("[]")), "must be a JSON object"));
  BOOST_TEST(contains(error_of(frame("{\"\xff\":1}")), "invalid JSON"));
  BOOST_TEST(
      contains(error_of(frame(R"({"a":{"dtype":"F32","shape":[[[1]]],"data_offsets":[0,4]}})")),
               "nested deeper"));
  BOOST_TEST(contains(error_of(one_tensor("[1]")), "must be an object"));
}

BOOST_AUTO_TEST_CASE(rejects_missing_and_mistyped_fields_naming_the_tensor) {
  const std::string at = "tensor '" + std::string(kQ) + "': ";
  BOOST_TEST(contains(error_of(one_tensor(R"({"shape":[1],"data_offsets":[0,4]})")),
                      at + "dtype is required"));
  BOOST_TEST(contains(error_of(one_tensor(R"({"dtype":"F32","data_offsets":[0,4]})")),
                      at + "shape is required"));
  BOOST_TEST(contains(error_of(one_tensor(R"({"dtype":"F32","shape":[1]})")),
                      at + "data_offsets is required"));
  BOOST_TEST(contains(error_of(one_tensor(R"({"dtype":"F99","shape":[1],"data_offsets":[0,4]})")),
                      at + "dtype must be one of"));
  BOOST_TEST(
      contains(error_of(one_tensor(R"({"dtype":32,"shape":[1],"data_offsets":[0,4]})")), "got 32"));
  for (const char* shape :
       {"[-1]", "[1.5]", "[\"1\"]", "1", "[281474976710656]", "[18446744073709551615]"}) {
    BOOST_TEST(contains(
        error_of(one_tensor(std::string(R"({"dtype":"F32","data_offsets":[0,4],"shape":)") + shape +
                            "}")),
        at + "shape"));
  }
  for (const char* offsets :
       {"[0]", "[0,4,8]", "[-4,0]", "[0,4.0]", "\"0,4\"", "[0,281474976710656]"}) {
    BOOST_TEST(
        contains(error_of(one_tensor(std::string(R"({"dtype":"F32","shape":[1],"data_offsets":)") +
                                     offsets + "}")),
                 at + "data_offsets must be two integers"));
  }
  BOOST_TEST(contains(error_of(one_tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[4,0]})")),
                      at + "data_offsets [4, 0] end before they begin"));
}

BOOST_AUTO_TEST_CASE(knows_every_dtype_and_its_width) {
  const std::vector<std::pair<std::string, unsigned>> widths{
      {"BOOL", 8},        {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
      {"I8", 8},          {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
      {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16},    {"BF16", 16},
      {"I32", 32},        {"U32", 32},    {"F32", 32},    {"C64", 64},    {"F64", 64},
      {"I64", 64},        {"U64", 64}};
  for (const auto& [name, bits] : widths) {
    BOOST_TEST(dtype_bits(name).value_or(0) == bits);
    const std::string body = R"({"dtype":")" + name + R"(","shape":[8],"data_offsets":[0,)" +
                             std::to_string(bits) + "]}";
    BOOST_TEST(parse_safetensors_header(one_tensor(body)).ok(), name);
  }
  BOOST_TEST(!dtype_bits("f16"));
  BOOST_TEST(!dtype_bits("F8"));
  BOOST_TEST(contains(error_of(one_tensor(R"({"dtype":"F4","shape":[3],"data_offsets":[0,1]})")),
                      "does not fill whole bytes"));
}

BOOST_AUTO_TEST_CASE(byte_size_must_match_shape_and_dtype) {
  BOOST_TEST(
      contains(error_of(one_tensor(R"({"dtype":"F32","shape":[2,3],"data_offsets":[0,20]})")),
               "data_offsets [0, 20] span 20 bytes, but F32 shape needs 24"));
  BOOST_TEST(
      contains(error_of(one_tensor(
                   R"({"dtype":"F32","shape":[16777216,16777216,16777216],"data_offsets":[0,4]})")),
               "overflows"));
}

BOOST_AUTO_TEST_CASE(offsets_must_tile_the_data_buffer) {
  const std::string a = std::string(kQ);
  const std::string b = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight";
  auto two = [&](std::string_view oa, std::string_view ob) {
    return frame("{\"" + a + R"(":{"dtype":"U8","shape":[100],"data_offsets":)" + std::string(oa) +
                 "},\"" + b + R"(":{"dtype":"U8","shape":[100],"data_offsets":)" + std::string(ob) +
                 "}}");
  };
  BOOST_TEST(parse_safetensors_header(two("[0,100]", "[100,200]")).ok());
  BOOST_TEST(error_of(two("[0,100]", "[50,150]")) ==
             "tensor '" + b + "': data_offsets [50, 150] overlap the previous tensor '" + a +
                 "' [0, 100]");
  BOOST_TEST(error_of(two("[0,100]", "[0,100]")) ==
             "tensor '" + b + "': data_offsets [0, 100] overlap the previous tensor '" + a +
                 "' [0, 100]");
  BOOST_TEST(
      contains(error_of(two("[0,100]", "[150,250]")),
               "tensor '" + b + "': data_offsets [150, 250] leave a gap: the previous tensor"));
  BOOST_TEST(
      contains(error_of(two("[8,108]", "[108,208]")), "leave a gap: the data buffer starts at 0"));
}

BOOST_AUTO_TEST_CASE(rejects_duplicate_names) {
  const std::string json =
      "{\"" + std::string(kQ) + R"(":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},")" +
      std::string(kQ) + R"(":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
  BOOST_TEST(error_of(frame(json)) ==
             "tensor '" + std::string(kQ) + "': appears more than once in the header");
}

BOOST_AUTO_TEST_CASE(metadata_maps_strings_to_strings) {
  auto ok = parse_safetensors_header(frame(R"({"__metadata__":{"format":"pt","b":""}})"));
  BOOST_REQUIRE(ok.ok());
  BOOST_TEST(ok->metadata.size() == 2u);
  BOOST_TEST(contains(error_of(frame(R"({"__metadata__":{"format":1}})")),
                      "__metadata__: value of 'format' must be a string"));
  BOOST_TEST(
      contains(error_of(frame(R"({"__metadata__":["pt"]})")), "__metadata__: must be an object"));
  BOOST_TEST(
      contains(error_of(frame(R"({"__metadata__":{"a":"1","a":"2"}})")), "duplicate key 'a'"));
  BOOST_TEST(
      contains(error_of(frame(R"({"__metadata__":{},"__metadata__":{}})")), "more than once"));
}

BOOST_AUTO_TEST_CASE(error_messages_show_names_safely) {
  const std::string json =
      "{\"bad\\u0001name'\":{\"dtype\":\"X\",\"shape\":[1],\"data_offsets\":[0,1]}}";
  BOOST_TEST(contains(error_of(frame(json)), "tensor 'bad?name?'"));
  BOOST_TEST(display_name(std::string(300, 'a')).size() == 203u);
}

BOOST_AUTO_TEST_CASE(file_size_must_be_exact) {
  const auto tensors = toy_tensors();
  const std::string file = file_bytes(tensors);
  auto header = parse_safetensors_header(file);
  BOOST_REQUIRE(header.ok());
  BOOST_TEST(check_file_size(*header, file.size()).ok());
  auto short_by_one = check_file_size(*header, file.size() - 1);
  BOOST_REQUIRE(!short_by_one.ok());
  BOOST_TEST(contains(short_by_one.error().message, "truncated"));
  auto trailing = check_file_size(*header, file.size() + 3);
  BOOST_REQUIRE(!trailing.ok());
  BOOST_TEST(contains(trailing.error().message, "3 trailing bytes"));
  BOOST_TEST(!check_file_size(*header, 0).ok());
}

BOOST_AUTO_TEST_CASE(large_base_headers_parse_without_data) {
  const auto tensors = lora_tensors(llama_70b(), LoraSpec{.rank = 64, .modules = all_modules()});
  auto header = parse_safetensors_header(header_bytes(tensors));
  BOOST_REQUIRE_MESSAGE(header.ok(), why(header));
  BOOST_TEST(header->tensors.size() == 80u * 7 * 2);
  BOOST_TEST(header->data_length == data_bytes(tensors));
}

// ---- incremental reader -----------------------------------------------------------------

namespace {

// Feeds `bytes` in the given chunk sizes (the rest in one last chunk); returns the final state.
HeaderReader::State feed_in_pieces(HeaderReader& reader, std::string_view bytes,
                                   const std::vector<std::size_t>& sizes) {
  auto state = reader.state();
  for (std::size_t size : sizes) {
    if (bytes.empty()) break;
    const std::size_t n = std::min(size, bytes.size());
    state = reader.feed(bytes.substr(0, n));
    bytes.remove_prefix(n);
  }
  if (!bytes.empty()) state = reader.feed(bytes);
  return state;
}

std::vector<std::size_t> random_sizes(std::mt19937& rng, std::size_t total) {
  std::vector<std::size_t> sizes;
  std::uniform_int_distribution<std::size_t> pick(0, 64);
  for (std::size_t sum = 0; sum < total;) {
    sizes.push_back(pick(rng) == 0 ? 0 : pick(rng) * (pick(rng) < 8 ? 37 : 1));
    sum += sizes.back();
  }
  return sizes;
}

}  // namespace

BOOST_AUTO_TEST_CASE(reader_fed_one_byte_at_a_time) {
  const std::string file = file_bytes(toy_tensors());
  const auto expected = parse_safetensors_header(file);
  BOOST_REQUIRE(expected.ok());
  const std::uint64_t header_end = 8 + expected->header_length;
  HeaderReader reader;
  for (std::size_t i = 0; i < file.size(); ++i) {
    const auto state = reader.feed(file.substr(i, 1));
    if (i + 1 < header_end) {
      BOOST_REQUIRE(state == HeaderReader::State::need_more);
    } else {
      BOOST_REQUIRE(state == HeaderReader::State::done);
    }
  }
  BOOST_TEST(reader.consumed() == header_end);
  BOOST_TEST(reader.header().tensors.size() == expected->tensors.size());
  BOOST_TEST(reader.header().file_size() == file.size());
}

BOOST_AUTO_TEST_CASE(reader_in_random_splits_matches_the_one_shot_parse) {
  const std::vector<std::string> files{
      file_bytes(toy_tensors()),
      frame("{}"),
      one_tensor(R"({"dtype":"F32","shape":[2,3],"data_offsets":[0,20]})"),
      frame("{\"a\":"),
      le64(100'000'001),
      frame(R"({"__metadata__":{"format":1}})"),
  };
  std::mt19937 rng(20240611);
  for (const auto& file : files) {
    const auto expected = parse_safetensors_header(file);
    for (int round = 0; round < 200; ++round) {
      HeaderReader reader;
      const auto state = feed_in_pieces(reader, file, random_sizes(rng, file.size()));
      if (expected.ok()) {
        BOOST_REQUIRE(state == HeaderReader::State::done);
        BOOST_REQUIRE(reader.header().tensors.size() == expected->tensors.size());
        BOOST_REQUIRE(reader.header().data_length == expected->data_length);
      } else {
        BOOST_REQUIRE(state == HeaderReader::State::failed);
        BOOST_REQUIRE(reader.error().message == expected.error().message);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(reader_rejects_absurd_lengths_before_any_json) {
  HeaderReader reader;
  BOOST_TEST((reader.feed(le64(100'000'001).substr(0, 7)) == HeaderReader::State::need_more));
  BOOST_TEST((reader.feed(le64(100'000'001).substr(7)) == HeaderReader::State::failed));
  BOOST_TEST(contains(reader.error().message, "100000000"));
  BOOST_TEST((reader.feed("{}") == HeaderReader::State::failed));
  HeaderReader capped(1000);
  BOOST_TEST((capped.feed(le64(5000)) == HeaderReader::State::failed));
  BOOST_TEST(contains(capped.error().message, "our limit of 1000"));
}

BOOST_AUTO_TEST_CASE(reader_stops_at_the_header_and_ignores_the_data) {
  const std::string file = file_bytes(toy_tensors()) + std::string(1 << 20, 'x');
  HeaderReader reader;
  BOOST_TEST((reader.feed(file) == HeaderReader::State::done));
  BOOST_TEST(reader.consumed() == reader.header().header_length + 8);
  BOOST_TEST((reader.feed("more") == HeaderReader::State::done));
  BOOST_TEST(reader.consumed() == reader.header().header_length + 8);
}

BOOST_AUTO_TEST_CASE(reader_accessors_check_their_preconditions) {
  HeaderReader reader;
  BOOST_CHECK_THROW(reader.header(), std::logic_error);
  BOOST_CHECK_THROW(reader.error(), std::logic_error);
  BOOST_TEST((reader.feed("") == HeaderReader::State::need_more));
}
