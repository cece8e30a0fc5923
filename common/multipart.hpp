// Streaming multipart/form-data parser (RFC 7578 over RFC 2046 framing) for request bodies
// read in chunks. Part data is passed straight through to a callback: memory stays bounded by
// the part header block, whatever a part's size, and no part byte is copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace loraplane {

// The boundary parameter of a `multipart/form-data` Content-Type, validated (1-70 characters
// of RFC 2046's bchars, not ending in a space); nullopt for another type or a bad boundary.
std::optional<std::string> boundary_from_content_type(std::string_view content_type);

struct MultipartLimits {
  std::size_t max_header_block = std::size_t{16} * 1024;  // one part's header lines
  std::size_t max_parts = 16;
  std::size_t max_field_bytes = std::size_t{1024} * 1024;  // a part without a filename
  // Parts by these names are never held to max_field_bytes, filename or not: the caller bounds
  // them (curl -F 'file=<path' and some clients send the file part without a filename).
  std::vector<std::string> caller_bounded;
  std::size_t max_preamble = std::size_t{16} * 1024;       // ignored text before the first boundary
  std::size_t max_epilogue = std::size_t{16} * 1024;       // ignored text after the final boundary
};

struct MultipartPart {
  std::string name;                     // Content-Disposition name
  std::optional<std::string> filename;  // present (possibly empty) for a file part
  std::string content_type;             // empty when the part has no Content-Type
};

// Callbacks return an error to stop parsing (e.g. a file whose header is already bad); feed()
// then returns that error. on_part_end is called only once the boundary after the part has
// been seen whole; the body is complete only when finish() succeeds.
struct MultipartCallbacks {
  std::function<Status(const MultipartPart&)> on_part_begin;
  std::function<Status(std::string_view)> on_part_data;
  std::function<Status()> on_part_end;
};

// Malformed input is Errc::invalid_argument, a bound hit Errc::limit_exceeded. After the first
// error every later call returns the same error.
class MultipartParser {
 public:
  // Precondition: `boundary` is valid (see boundary_from_content_type); throws otherwise.
  MultipartParser(std::string_view boundary, MultipartCallbacks callbacks,
                  MultipartLimits limits = {});

  Status feed(std::string_view chunk);
  // The body has ended: an error unless the final `--boundary--` has been seen.
  Status finish();
  std::size_t parts() const { return parts_; }

 private:
  enum class State {
    preamble,        // looking for the first delimiter
    after_boundary,  // just past "--boundary": "--", padding or CRLF follows
    padding,         // transport padding (spaces, tabs) before CRLF
    boundary_lf,     // CR seen after the boundary, LF must follow
    close_dash,      // one '-' seen after the boundary, a second must follow
    headers,         // accumulating a part's header block
    body,            // passing part data through, looking for the delimiter
    epilogue,        // after the close delimiter: ignored
    failed,
  };

  Status step(std::string_view chunk, std::size_t& pos);
  Status scan(std::string_view chunk, std::size_t& pos, bool& found);
  Status emit(std::string_view data);
  Status after_boundary_byte(char c);
  Status header_byte(char c);
  Status begin_part();
  Status end_part();
  Status fail(Error error);

  std::string delimiter_;  // "\r\n--" + boundary
  MultipartCallbacks callbacks_;
  MultipartLimits limits_;
  State state_ = State::preamble;
  std::size_t match_ = 0;  // bytes of delimiter_ matched at the end of the last chunk
  std::string header_block_;
  std::size_t parts_ = 0;
  bool in_part_ = false;
  bool field_part_ = false;
  std::size_t part_bytes_ = 0;
  std::size_t ignored_bytes_ = 0;  // of preamble, padding or epilogue
  std::string part_name_;
  Error error_;
};

}  // namespace loraplane
