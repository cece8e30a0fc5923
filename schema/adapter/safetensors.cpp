// safetensors header parsing: the length prefix, the JSON document, and the per-tensor and
// whole-file offset rules (safetensors' read_metadata/validate, plus duplicate names).
#include "schema/adapter/safetensors.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <tuple>

#include "schema/adapter/json_impl.hpp"

namespace loraplane::adapter {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// The JSON Schema of the format bounds shape entries and offsets by 2^48 - 1; keeping to it
// also keeps 8 + N + end far from overflow.
constexpr std::uint64_t kMaxJsonInteger = (std::uint64_t{1} << 48) - 1;
// Header: object -> tensor object -> shape array.
constexpr std::size_t kMaxJsonDepth = 4;
constexpr std::size_t kMaxDisplayName = 200;
constexpr std::string_view kMetadataKey = "__metadata__";

struct Dtype {
  std::string_view name;
  unsigned bits;
};

constexpr std::array<Dtype, 22> kDtypes{{
    {"BOOL", 8},        {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
    {"I8", 8},          {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
    {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16},    {"BF16", 16},
    {"I32", 32},        {"U32", 32},    {"F32", 32},    {"C64", 64},    {"F64", 64},
    {"I64", 64},        {"U64", 64},
}};

Error invalid(std::string message) {
  return make_error(Errc::invalid_argument, std::move(message));
}

std::string tensor_error(std::string_view name, std::string_view what) {
  return "tensor '" + display_name(name) + "': " + std::string(what);
}

std::string offsets_text(const TensorInfo& t) {
  return "[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
}

// Reads a JSON non-negative integer within the format's bound.
bool read_uint(element value, std::uint64_t& out) {
  if (value.type() == element_type::UINT64) return false;  // above 2^63: out of bound anyway
  if (value.type() != element_type::INT64) return false;
  const std::int64_t n = value.get_int64().value_unsafe();
  if (n < 0 || static_cast<std::uint64_t>(n) > kMaxJsonInteger) return false;
  out = static_cast<std::uint64_t>(n);
  return true;
}

Result<std::vector<std::uint64_t>> read_shape(std::string_view name, element value) {
  simdjson::dom::array items;
  if (value.get_array().get(items) != simdjson::SUCCESS) {
    return invalid(tensor_error(name, "shape must be an array of non-negative integers"));
  }
  std::vector<std::uint64_t> shape;
  for (element item : items) {
    std::uint64_t dim = 0;
    if (!read_uint(item, dim)) {
      return invalid(tensor_error(
          name, "shape entries must be integers between 0 and " + std::to_string(kMaxJsonInteger)));
    }
    shape.push_back(dim);
  }
  return shape;
}

Status read_offsets(std::string_view name, element value, TensorInfo& out) {
  const auto malformed = [&] {
    const std::string what = "data_offsets must be two integers [begin, end] between 0 and " +
                             std::to_string(kMaxJsonInteger);
    return invalid(tensor_error(name, what));
  };
  simdjson::dom::array items;
  if (value.get_array().get(items) != simdjson::SUCCESS || items.size() != 2) return malformed();
  std::array<std::uint64_t, 2> offsets{};
  std::size_t i = 0;
  for (element item : items) {
    if (!read_uint(item, offsets[i++])) return malformed();
  }
  out.begin = offsets[0];
  out.end = offsets[1];
  if (out.end < out.begin) {
    return invalid(
        tensor_error(name, "data_offsets " + offsets_text(out) + " end before they begin"));
  }
  return {};
}

Result<TensorInfo> read_tensor(std::string_view name, element value) {
  simdjson::dom::object fields;
  if (value.get_object().get(fields) != simdjson::SUCCESS) {
    return invalid(tensor_error(name, "must be an object with dtype, shape and data_offsets"));
  }
  TensorInfo info;
  info.name = std::string(name);
  element field;
  std::string_view dtype;
  if (fields.at_key("dtype").get(field) != simdjson::SUCCESS) {
    return invalid(tensor_error(name, "dtype is required"));
  }
  if (field.get_string().get(dtype) != simdjson::SUCCESS || !dtype_bits(dtype)) {
    return invalid(tensor_error(name,
                                "dtype must be one of the safetensors dtypes (F16, BF16, "
                                "F32, I32, ...), got " +
                                    display_name(simdjson::minify(field))));
  }
  info.dtype = std::string(dtype);
  if (fields.at_key("shape").get(field) != simdjson::SUCCESS) {
    return invalid(tensor_error(name, "shape is required"));
  }
  auto shape = read_shape(name, field);
  if (!shape) return shape.error();
  info.shape = std::move(shape).value();
  if (fields.at_key("data_offsets").get(field) != simdjson::SUCCESS) {
    return invalid(tensor_error(name, "data_offsets is required"));
  }
  if (auto status = read_offsets(name, field, info); !status) return status.error();
  return info;
}

Status read_metadata(element value, SafetensorsHeader& out) {
  simdjson::dom::object fields;
  if (value.get_object().get(fields) != simdjson::SUCCESS) {
    return invalid("__metadata__: must be an object of string values");
  }
  for (auto field : fields) {
    std::string_view text;
    if (field.value.get_string().get(text) != simdjson::SUCCESS) {
      return invalid("__metadata__: value of '" + display_name(field.key) + "' must be a string");
    }
    out.metadata.emplace_back(std::string(field.key), std::string(text));
  }
  std::vector<std::string_view> keys;
  keys.reserve(out.metadata.size());
  for (const auto& entry : out.metadata) keys.push_back(entry.first);
  if (auto dup = detail::first_duplicate(std::move(keys))) {
    return invalid("__metadata__: duplicate key '" + display_name(*dup) + "'");
  }
  return {};
}

Status reject_duplicate_names(const std::vector<TensorInfo>& tensors) {
  std::vector<std::string_view> names;
  names.reserve(tensors.size());
  for (const auto& t : tensors) names.push_back(t.name);
  if (auto dup = detail::first_duplicate(std::move(names))) {
    return invalid(tensor_error(*dup, "appears more than once in the header"));
  }
  return {};
}

// Sorted by (begin, end), tensors must tile [0, last end) with neither holes nor overlaps.
Status check_contiguous(const std::vector<TensorInfo>& tensors) {
  std::uint64_t expected = 0;
  const TensorInfo* previous = nullptr;
  for (const auto& t : tensors) {
    if (t.begin < expected) {
      return invalid(tensor_error(
          t.name, "data_offsets " + offsets_text(t) + " overlap the previous tensor '" +
                      display_name(previous->name) + "' " + offsets_text(*previous)));
    }
    if (t.begin > expected) {
      const std::string where = previous == nullptr
                                    ? std::string("the data buffer starts at 0")
                                    : "the previous tensor '" + display_name(previous->name) +
                                          "' ends at " + std::to_string(expected);
      return invalid(
          tensor_error(t.name, "data_offsets " + offsets_text(t) + " leave a gap: " + where));
    }
    expected = t.end;
    previous = &t;
  }
  return {};
}

// numel * bits / 8 must be exactly end - begin; an empty shape is a scalar.
Status check_byte_size(const TensorInfo& t) {
  std::uint64_t numel = 1;
  for (auto dim : t.shape) {
    if (__builtin_mul_overflow(numel, dim, &numel)) {
      return invalid(tensor_error(t.name, "shape overflows the element count"));
    }
  }
  std::uint64_t bits = 0;
  if (__builtin_mul_overflow(numel, std::uint64_t{*dtype_bits(t.dtype)}, &bits)) {
    return invalid(tensor_error(t.name, "shape overflows the byte size"));
  }
  if (bits % 8 != 0) {
    return invalid(tensor_error(t.name, "shape does not fill whole bytes of dtype " + t.dtype));
  }
  if (t.end - t.begin != bits / 8) {
    return invalid(tensor_error(t.name, "data_offsets " + offsets_text(t) + " span " +
                                            std::to_string(t.end - t.begin) + " bytes, but " +
                                            t.dtype + " shape needs " + std::to_string(bits / 8)));
  }
  return {};
}

Result<SafetensorsHeader> parse_header_json(std::string_view json) {
  simdjson::dom::parser parser;
  auto root = detail::load_json(parser, json, kMaxJsonDepth, "safetensors header");
  if (!root) return root.error();
  simdjson::dom::object fields;
  if (root->get_object().get(fields) != simdjson::SUCCESS) {
    return invalid("safetensors header: must be a JSON object");
  }
  SafetensorsHeader header;
  header.header_length = json.size();
  bool seen_metadata = false;
  for (auto field : fields) {
    if (field.key == kMetadataKey) {
      if (seen_metadata) return invalid("__metadata__: appears more than once in the header");
      seen_metadata = true;
      if (auto status = read_metadata(field.value, header); !status) return status.error();
      continue;
    }
    auto tensor = read_tensor(field.key, field.value);
    if (!tensor) return tensor.error();
    header.tensors.push_back(std::move(tensor).value());
  }
  if (auto status = reject_duplicate_names(header.tensors); !status) return status.error();
  std::sort(header.tensors.begin(), header.tensors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  if (auto status = check_contiguous(header.tensors); !status) return status.error();
  for (const auto& t : header.tensors) {
    if (auto status = check_byte_size(t); !status) return status.error();
  }
  header.data_length = header.tensors.empty() ? 0 : header.tensors.back().end;
  return header;
}

Result<std::uint64_t> read_header_length(std::string_view prefix, std::uint64_t max_header_bytes) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < kLengthPrefixBytes; ++i) {
    n |= std::uint64_t{static_cast<unsigned char>(prefix[i])} << (8 * i);
  }
  if (n > kFormatMaxHeaderBytes) {
    return invalid("safetensors header: length " + std::to_string(n) +
                   " exceeds the format's limit of 100000000 bytes (not a safetensors file?)");
  }
  if (n > max_header_bytes) {
    return invalid("safetensors header: length " + std::to_string(n) + " exceeds our limit of " +
                   std::to_string(max_header_bytes) + " bytes");
  }
  if (n < 2) {
    return invalid("safetensors header: length " + std::to_string(n) +
                   " is too short for a JSON object");
  }
  return n;
}

}  // namespace

std::optional<unsigned> dtype_bits(std::string_view dtype) {
  for (const auto& d : kDtypes) {
    if (d.name == dtype) return d.bits;
  }
  return std::nullopt;
}

std::string display_name(std::string_view name) {
  std::string out;
  const bool cut = name.size() > kMaxDisplayName;
  if (cut) name = name.substr(0, kMaxDisplayName);
  out.reserve(name.size() + 3);
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f || c == '\'' ? '?' : c);
  }
  if (cut) out += "...";
  return out;
}

Result<SafetensorsHeader> parse_safetensors_header(std::string_view bytes,
                                                   std::uint64_t max_header_bytes) {
  if (bytes.size() < kLengthPrefixBytes) {
    return invalid("safetensors header: file is shorter than the 8-byte length prefix");
  }
  auto n = read_header_length(bytes, max_header_bytes);
  if (!n) return n.error();
  const std::string_view rest = bytes.substr(kLengthPrefixBytes);
  if (rest.size() < *n) {
    return invalid("safetensors header: length " + std::to_string(*n) + " runs past the end (" +
                   std::to_string(rest.size()) + " bytes follow the length prefix)");
  }
  return parse_header_json(rest.substr(0, *n));
}

Status check_file_size(const SafetensorsHeader& header, std::uint64_t actual_file_size) {
  const std::uint64_t expected = header.file_size();
  if (actual_file_size < expected) {
    return invalid("safetensors file is truncated: the header declares " +
                   std::to_string(header.data_length) + " bytes of tensor data, so " +
                   std::to_string(expected) + " bytes in all, but the file has " +
                   std::to_string(actual_file_size));
  }
  if (actual_file_size > expected) {
    return invalid("safetensors file has " + std::to_string(actual_file_size - expected) +
                   " trailing bytes after the last tensor (expected " + std::to_string(expected) +
                   " bytes in all)");
  }
  return {};
}

HeaderReader::HeaderReader(std::uint64_t max_header_bytes) : max_header_bytes_(max_header_bytes) {}

HeaderReader::State HeaderReader::fail(Error error) {
  error_ = std::move(error);
  buffer_ = std::string();
  state_ = State::failed;
  return state_;
}

HeaderReader::State HeaderReader::feed(std::string_view bytes) {
  if (state_ != State::need_more) return state_;
  if (!header_length_) {
    const std::size_t take =
        std::min<std::size_t>(bytes.size(), kLengthPrefixBytes - buffer_.size());
    buffer_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    consumed_ += take;
    if (buffer_.size() < kLengthPrefixBytes) return state_;
    auto n = read_header_length(buffer_, max_header_bytes_);
    if (!n) return fail(n.error());
    header_length_ = *n;
    buffer_.clear();
  }
  const std::uint64_t missing = *header_length_ - buffer_.size();
  const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), missing));
  buffer_.append(bytes.substr(0, take));
  consumed_ += take;
  if (buffer_.size() < *header_length_) return state_;
  auto header = parse_header_json(buffer_);
  if (!header) return fail(header.error());
  header_ = std::move(header).value();
  buffer_ = std::string();
  state_ = State::done;
  return state_;
}

const SafetensorsHeader& HeaderReader::header() const {
  if (state_ != State::done) throw std::logic_error("HeaderReader::header() before done");
  return header_;
}

const Error& HeaderReader::error() const {
  if (state_ != State::failed) throw std::logic_error("HeaderReader::error() without failure");
  return error_;
}

}  // namespace loraplane::adapter
