// multipart/form-data: delimiter scanning across chunk edges, boundary lines, part headers
// (Content-Disposition, Content-Type) and the limits on each.
//
// The stream is treated as if it began with CRLF, so every delimiter, the first included, is
// "\r\n--boundary". Boundaries hold no CR, so a delimiter can only start at a CR byte and the
// bytes of a partial match never contain the start of another: after a mismatch the held-back
// bytes are plain data, which lets the parser keep only a count of them.
#include "common/multipart.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

namespace loraplane {
namespace {

constexpr std::size_t kMaxBoundary = 70;
constexpr std::size_t kMaxTransportPadding = 1024;
constexpr std::string_view kCrlf = "\r\n";

Error malformed(std::string what) {
  return make_error(Errc::invalid_argument, "multipart body: " + std::move(what));
}

Error too_large(std::string what) {
  return make_error(Errc::limit_exceeded, "multipart body: " + std::move(what));
}

bool is_bchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

bool valid_boundary(std::string_view b) {
  return !b.empty() && b.size() <= kMaxBoundary && b.back() != ' ' &&
         std::all_of(b.begin(), b.end(), is_bchar);
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

// A header value "type; a=b; c=\"d\"": the leading token and the parameters, names lowercased
// and quoted values unescaped.
struct HeaderValue {
  std::string_view type;
  std::vector<std::pair<std::string, std::string>> params;

  int count(std::string_view name) const {
    return static_cast<int>(std::count_if(params.begin(), params.end(),
                                          [&](const auto& p) { return p.first == name; }));
  }
  const std::string* find(std::string_view name) const {
    for (const auto& p : params) {
      if (p.first == name) return &p.second;
    }
    return nullptr;
  }
};

class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool done() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  void skip_ows() {
    while (!done() && is_ows(peek())) ++pos_;
  }
  bool take(char c) {
    if (done() || peek() != c) return false;
    ++pos_;
    return true;
  }
  // Up to a delimiter, whitespace or the end.
  std::string_view token(std::string_view stops) {
    const std::size_t start = pos_;
    while (!done() && !is_ows(peek()) && stops.find(peek()) == std::string_view::npos) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  // After the opening quote; false if unterminated.
  bool quoted(std::string& out) {
    while (!done()) {
      char c = text_[pos_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (done()) return false;
        c = text_[pos_++];
      }
      out.push_back(c);
    }
    return false;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

Result<HeaderValue> parse_header_value(std::string_view value, std::string_view header) {
  Cursor in(value);
  HeaderValue out;
  in.skip_ows();
  out.type = in.token(";");
  for (;;) {
    in.skip_ows();
    if (in.done()) break;
    if (!in.take(';')) return malformed(std::string(header) + ": expected ';' between parameters");
    in.skip_ows();
    if (in.done()) break;  // a trailing ';'
    std::string name(in.token("=;"));
    in.skip_ows();
    if (name.empty() || !in.take('=')) {
      return malformed(std::string(header) + ": parameters must look like name=value");
    }
    std::transform(name.begin(), name.end(), name.begin(), lower);
    in.skip_ows();
    std::string text;
    if (in.take('"')) {
      if (!in.quoted(text)) return malformed(std::string(header) + ": unterminated quoted string");
    } else {
      text = std::string(in.token(";"));
    }
    out.params.emplace_back(std::move(name), std::move(text));
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// RFC 5987 ext-value: UTF-8'lang'percent-encoded.
std::optional<std::string> decode_ext_value(std::string_view value) {
  const auto first = value.find('\'');
  const auto second = first == std::string_view::npos ? first : value.find('\'', first + 1);
  if (second == std::string_view::npos || !iequals(value.substr(0, first), "utf-8"))
    return std::nullopt;
  std::string out;
  for (std::size_t i = second + 1; i < value.size(); ++i) {
    if (value[i] != '%') {
      out.push_back(value[i]);
      continue;
    }
    if (i + 2 >= value.size()) return std::nullopt;
    const int hi = hex_value(value[i + 1]);
    const int lo = hex_value(value[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

Status read_disposition(std::string_view value, MultipartPart& part) {
  auto parsed = parse_header_value(value, "Content-Disposition");
  if (!parsed) return parsed.error();
  if (!iequals(parsed->type, "form-data")) {
    return malformed("Content-Disposition must be form-data");
  }
  for (std::string_view key : {"name", "filename", "filename*"}) {
    if (parsed->count(key) > 1) {
      return malformed("Content-Disposition has more than one " + std::string(key) + " parameter");
    }
  }
  const std::string* name = parsed->find("name");
  if (name == nullptr || name->empty()) return malformed("Content-Disposition has no name");
  part.name = *name;
  if (const std::string* filename = parsed->find("filename")) {
    part.filename = *filename;
  } else if (const std::string* ext = parsed->find("filename*")) {
    part.filename = decode_ext_value(*ext);
    if (!part.filename)
      return malformed("Content-Disposition filename* is not UTF-8''<percent-encoded>");
  }
  return {};
}

bool is_token_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f &&
         std::string_view("()<>@,;:\\\"/[]?={}").find(c) == std::string_view::npos;
}

Status read_header_line(std::string_view line, MultipartPart& part, bool& seen_disposition,
                        bool& seen_type) {
  for (char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return malformed("control character in part headers");
  }
  const auto colon = line.find(':');
  const std::string_view name = line.substr(0, colon);
  if (colon == std::string_view::npos || name.empty() ||
      !std::all_of(name.begin(), name.end(), is_token_char)) {
    return malformed("malformed part header line");
  }
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && is_ows(value.front())) value.remove_prefix(1);
  while (!value.empty() && is_ows(value.back())) value.remove_suffix(1);
  if (iequals(name, "content-disposition")) {
    if (std::exchange(seen_disposition, true))
      return malformed("part has two Content-Disposition headers");
    return read_disposition(value, part);
  }
  if (iequals(name, "content-type")) {
    if (std::exchange(seen_type, true)) return malformed("part has two Content-Type headers");
    part.content_type = std::string(value);
  }
  return {};
}

// `block` is the header lines, each ending in CRLF (the blank line removed).
Result<MultipartPart> parse_part_headers(std::string_view block) {
  if (block.find("\r\n ") != std::string_view::npos ||
      block.find("\r\n\t") != std::string_view::npos || (!block.empty() && is_ows(block.front()))) {
    return malformed("folded part header lines are not supported");
  }
  MultipartPart part;
  bool seen_disposition = false;
  bool seen_type = false;
  while (!block.empty()) {
    const auto eol = block.find(kCrlf);
    if (eol == std::string_view::npos || eol == 0) return malformed("malformed part header line");
    if (auto status = read_header_line(block.substr(0, eol), part, seen_disposition, seen_type);
        !status) {
      return status.error();
    }
    block.remove_prefix(eol + kCrlf.size());
  }
  if (!seen_disposition) return malformed("part has no Content-Disposition header");
  return part;
}

}  // namespace

std::optional<std::string> boundary_from_content_type(std::string_view content_type) {
  auto parsed = parse_header_value(content_type, "Content-Type");
  if (!parsed || !iequals(parsed->type, "multipart/form-data") || parsed->count("boundary") != 1) {
    return std::nullopt;
  }
  const std::string* boundary = parsed->find("boundary");
  if (!valid_boundary(*boundary)) return std::nullopt;
  return *boundary;
}

MultipartParser::MultipartParser(std::string_view boundary, MultipartCallbacks callbacks,
                                 MultipartLimits limits)
    : delimiter_("\r\n--" + std::string(boundary)),
      callbacks_(std::move(callbacks)),
      limits_(limits),
      match_(kCrlf.size()) {  // the virtual CRLF before the body's first byte
  if (!valid_boundary(boundary)) throw std::invalid_argument("multipart boundary is not valid");
}

Status MultipartParser::fail(Error error) {
  error_ = std::move(error);
  state_ = State::failed;
  return error_;
}

Status MultipartParser::feed(std::string_view chunk) {
  if (state_ == State::failed) return error_;
  std::size_t pos = 0;
  while (pos < chunk.size()) {
    if (auto status = step(chunk, pos); !status) return fail(status.error());
  }
  return {};
}

Status MultipartParser::finish() {
  switch (state_) {
    case State::failed:
      return error_;
    case State::epilogue:
      return {};
    case State::preamble:
      return fail(malformed("no boundary line found"));
    case State::headers:
      return fail(malformed("truncated inside the headers of part " + std::to_string(parts_ + 1)));
    case State::body:
      return fail(malformed("truncated inside part '" + part_name_ + "': no final boundary"));
    default:
      return fail(malformed("truncated after a boundary: no final boundary"));
  }
}

Status MultipartParser::step(std::string_view chunk, std::size_t& pos) {
  switch (state_) {
    case State::preamble:
    case State::body: {
      bool found = false;
      if (auto status = scan(chunk, pos, found); !status) return status;
      if (found) state_ = State::after_boundary;
      return {};
    }
    case State::headers:
      while (pos < chunk.size() && state_ == State::headers) {
        if (auto status = header_byte(chunk[pos++]); !status) return status;
      }
      return {};
    case State::epilogue:
      ignored_bytes_ += chunk.size() - pos;
      pos = chunk.size();
      if (ignored_bytes_ > limits_.max_epilogue) {
        return too_large("epilogue after the final boundary exceeds " +
                         std::to_string(limits_.max_epilogue) + " bytes");
      }
      return {};
    default:
      return after_boundary_byte(chunk[pos++]);
  }
}

// Emits bytes before the next delimiter and consumes the delimiter; at the chunk's end keeps
// back (as a count) the bytes that may begin one.
Status MultipartParser::scan(std::string_view chunk, std::size_t& pos, bool& found) {
  const std::string_view delimiter = delimiter_;
  if (match_ > 0) {
    while (match_ < delimiter.size() && pos < chunk.size() && chunk[pos] == delimiter[match_]) {
      ++match_;
      ++pos;
    }
    if (match_ == delimiter.size()) {
      match_ = 0;
      found = true;
      return {};
    }
    if (pos == chunk.size()) return {};
    const std::size_t held = std::exchange(match_, 0);
    if (auto status = emit(delimiter.substr(0, held)); !status) return status;
  }
  const std::size_t start = pos;
  for (;;) {
    const std::size_t cr = chunk.find('\r', pos);
    if (cr == std::string_view::npos) {
      pos = chunk.size();
      return emit(chunk.substr(start));
    }
    const std::size_t n = std::min(delimiter.size(), chunk.size() - cr);
    if (chunk.substr(cr, n) == delimiter.substr(0, n)) {
      pos = cr + n;
      if (n == delimiter.size()) {
        found = true;
      } else {
        match_ = n;
      }
      return emit(chunk.substr(start, cr - start));
    }
    pos = cr + 1;
  }
}

Status MultipartParser::emit(std::string_view data) {
  if (data.empty()) return {};
  if (state_ == State::preamble) {
    ignored_bytes_ += data.size();
    if (ignored_bytes_ > limits_.max_preamble) {
      return too_large("preamble before the first boundary exceeds " +
                       std::to_string(limits_.max_preamble) + " bytes");
    }
    return {};
  }
  part_bytes_ += data.size();
  if (field_part_ && part_bytes_ > limits_.max_field_bytes) {
    return too_large("form field '" + part_name_ + "' exceeds " +
                     std::to_string(limits_.max_field_bytes) + " bytes");
  }
  return callbacks_.on_part_data ? callbacks_.on_part_data(data) : Status{};
}

Status MultipartParser::after_boundary_byte(char c) {
  switch (state_) {
    case State::after_boundary:
    case State::padding:
      if (c == '\r') {
        state_ = State::boundary_lf;
      } else if (is_ows(c)) {
        if (std::exchange(state_, State::padding) == State::after_boundary) ignored_bytes_ = 0;
        if (++ignored_bytes_ > kMaxTransportPadding)
          return malformed("too much padding after a boundary");
      } else if (c == '-' && state_ == State::after_boundary) {
        state_ = State::close_dash;
      } else {
        return malformed("a boundary must be followed by CRLF or \"--\"");
      }
      return {};
    case State::boundary_lf:
      if (c != '\n') return malformed("a boundary line must end in CRLF");
      if (auto status = end_part(); !status) return status;
      header_block_.clear();
      state_ = State::headers;
      return {};
    default:  // close_dash
      if (c != '-') return malformed("a boundary must be followed by CRLF or \"--\"");
      if (auto status = end_part(); !status) return status;
      ignored_bytes_ = 0;
      state_ = State::epilogue;
      return {};
  }
}

Status MultipartParser::header_byte(char c) {
  header_block_.push_back(c);
  if (header_block_.size() > limits_.max_header_block) {
    return too_large("headers of part " + std::to_string(parts_ + 1) + " exceed " +
                     std::to_string(limits_.max_header_block) + " bytes");
  }
  if (header_block_ == kCrlf || std::string_view(header_block_).ends_with("\r\n\r\n")) {
    return begin_part();
  }
  return {};
}

Status MultipartParser::begin_part() {
  if (parts_ >= limits_.max_parts) {
    return too_large("more than " + std::to_string(limits_.max_parts) + " parts");
  }
  // Drop the blank line: what remains is header lines, each ending in CRLF.
  auto part =
      parse_part_headers(std::string_view(header_block_).substr(0, header_block_.size() - 2));
  if (!part) return part.error();
  ++parts_;
  in_part_ = true;
  field_part_ = !part->filename.has_value() &&
                std::find(limits_.caller_bounded.begin(), limits_.caller_bounded.end(),
                          part->name) == limits_.caller_bounded.end();
  part_bytes_ = 0;
  part_name_ = part->name;
  header_block_.clear();
  state_ = State::body;
  match_ = 0;
  return callbacks_.on_part_begin ? callbacks_.on_part_begin(*part) : Status{};
}

Status MultipartParser::end_part() {
  if (!std::exchange(in_part_, false)) return {};
  return callbacks_.on_part_end ? callbacks_.on_part_end() : Status{};
}

}  // namespace loraplane
