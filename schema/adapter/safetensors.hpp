// The safetensors header: an 8-byte little-endian length N, N bytes of JSON, then the tensor
// data. Owns parsing and validating that header (the rules of the reference Rust reader, plus a
// duplicate-name check and a size cap) from a buffer or incrementally while an upload streams in.
// Every rejection is Errc::invalid_argument with a message naming the tensor or field at fault.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace loraplane::adapter {

// Bytes taken by the length prefix.
inline constexpr std::uint64_t kLengthPrefixBytes = 8;
// The format's own bound on N (safetensors' HeaderTooLarge).
inline constexpr std::uint64_t kFormatMaxHeaderBytes = 100'000'000;
// Our default bound on N: a Llama 70B adapter on all seven modules needs ~150 KB of header.
inline constexpr std::uint64_t kDefaultMaxHeaderBytes = std::uint64_t{16} * 1024 * 1024;

struct TensorInfo {
  std::string name;
  std::string dtype;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0;  // [begin, end) relative to the start of the data buffer
  std::uint64_t end = 0;
};

struct SafetensorsHeader {
  std::uint64_t header_length = 0;  // N: the JSON bytes after the 8-byte prefix
  std::vector<TensorInfo> tensors;  // sorted by data offset
  std::vector<std::pair<std::string, std::string>> metadata;  // __metadata__, document order
  std::uint64_t data_length = 0;                              // end of the last tensor
  // The exact size a well-formed file with this header has: 8 + N + data_length.
  std::uint64_t file_size() const { return kLengthPrefixBytes + header_length + data_length; }
};

// Bits per element of a safetensors dtype string ("F16" -> 16), nullopt if unknown.
std::optional<unsigned> dtype_bits(std::string_view dtype);

// A tensor or key name made safe for an error message: control bytes become '?', long names
// are cut with "...".
std::string display_name(std::string_view name);

// Parses and validates the header at the start of `bytes` (which may go on past the header).
// Does not check the file size; see check_file_size.
Result<SafetensorsHeader> parse_safetensors_header(
    std::string_view bytes, std::uint64_t max_header_bytes = kDefaultMaxHeaderBytes);

// 8 + N + last end must equal the file size exactly: a shorter file is truncated, a longer one
// carries trailing bytes, and both are rejected.
Status check_file_size(const SafetensorsHeader& header, std::uint64_t actual_file_size);

// Fed the first bytes of a file as they stream in; buffers only the header (at most
// max_header_bytes, growing as bytes arrive rather than trusting N up front). Bytes past the
// header are ignored, so every chunk of a body may be passed as is.
class HeaderReader {
 public:
  enum class State { need_more, done, failed };

  explicit HeaderReader(std::uint64_t max_header_bytes = kDefaultMaxHeaderBytes);

  State feed(std::string_view bytes);
  State state() const { return state_; }
  // Bytes of the file consumed so far (at most 8 + N).
  std::uint64_t consumed() const { return consumed_; }
  // Preconditions: state() == done, respectively failed.
  const SafetensorsHeader& header() const;
  const Error& error() const;

 private:
  State fail(Error error);

  std::uint64_t max_header_bytes_;
  std::uint64_t consumed_ = 0;
  std::optional<std::uint64_t> header_length_;
  std::string buffer_;
  State state_ = State::need_more;
  SafetensorsHeader header_;
  Error error_;
};

}  // namespace loraplane::adapter
