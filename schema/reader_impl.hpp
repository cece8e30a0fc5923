// Internal to schema/: a field reader over a simdjson DOM that records the first error with
// the path of the field at fault ("data[2].source.type: must be one of upload, hf"). Only
// schema/*.cpp include this header; simdjson stays a private dependency.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "schema/json.hpp"

namespace loraplane::schema::detail {

using simdjson::dom::element;

inline constexpr std::size_t kMaxStringBytes = 4096;
inline constexpr std::size_t kMaxListItems = 10000;

// The first error of one parse; nested readers share it.
class ErrorSlot {
 public:
  bool failed() const { return error_.has_value(); }
  void fail(std::string_view path, std::string_view what);
  Error take() { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

struct StringRule {
  std::size_t min = 1;
  std::size_t max = kMaxStringBytes;
  bool (*check)(std::string_view) = nullptr;
  std::string_view message = {};  // said when check fails, e.g. "must be 64 lowercase hex digits"
};

inline constexpr std::size_t kMaxIdBytes = 128;

bool valid_sha256_or_empty(std::string_view hex);

inline constexpr StringRule kIdRule{.max = kMaxIdBytes};
inline constexpr StringRule kConfigRule{.max = 64 * 1024};  // adapter_config.json text
inline constexpr StringRule kNameRule{.check = valid_name,
                                      .message = "must be 1-64 characters of [A-Za-z0-9._-]"};
inline constexpr StringRule kSha256Rule{.check = valid_sha256,
                                        .message = "must be 64 lowercase hex digits"};
inline constexpr StringRule kSha256OrEmptyRule{
    .check = valid_sha256_or_empty, .message = "must be empty or 64 lowercase hex digits"};
inline constexpr StringRule kAdapterIdRule{
    .check = valid_adapter_id,
    .message = "must be \"adp_\" followed by 1-64 characters of [A-Za-z0-9_-]"};
inline constexpr StringRule kBaseModelRule{
    .check = valid_base_model, .message = "must be 1-128 characters of [A-Za-z0-9._/-]"};
inline constexpr StringRule kRepoRule{
    .check = valid_repo,
    .message =
        "must be a Hugging Face repo id, \"name\" or \"owner/name\" (at most 96 characters)"};
inline constexpr StringRule kRevisionRule{.check = valid_revision,
                                          .message = "must be 1-255 visible ASCII characters"};

class ObjectReader {
 public:
  // Records "<path>: must be an object" if value is not one, and rejects duplicate keys.
  ObjectReader(element value, std::string path, ErrorSlot& errors);

  bool failed() const { return errors_.failed(); }
  void fail(std::string_view key, std::string_view what);
  std::string path_of(std::string_view key) const;

  // Required fields: absence, wrong type or a broken rule records an error naming the field.
  void string(std::string_view key, std::string& out, const StringRule& rule = {});
  void boolean(std::string_view key, bool& out);
  void number(std::string_view key, double& out);
  void string_list(std::string_view key, std::vector<std::string>& out,
                   const StringRule& rule = {});
  template <class I>
  void integer(std::string_view key, I& out, std::int64_t min = 0, std::int64_t max = max_of<I>());
  // `"<key>": "<expected>"`, e.g. "object": "adapter".
  void constant(std::string_view key, std::string_view expected);
  void require_true(std::string_view key);
  // "version": must be kEventVersion.
  void version(int& out);
  template <class E>
  void enumeration(std::string_view key, E& out, std::optional<E> (*parse)(std::string_view),
                   std::string_view allowed);

  // Optional fields: absent leaves `out` untouched; null is an error unless nullable.
  void optional_string(std::string_view key, std::optional<std::string>& out,
                       const StringRule& rule = {});
  // null reads as nullopt; `required` makes the key itself mandatory.
  void nullable_string(std::string_view key, std::optional<std::string>& out,
                       const StringRule& rule = {}, bool required = false);
  void optional_string(std::string_view key, std::string& out, const StringRule& rule = {});
  void optional_number(std::string_view key, std::optional<double>& out);
  void optional_boolean(std::string_view key, bool& out);
  void optional_string_list(std::string_view key, std::vector<std::string>& out,
                            const StringRule& rule = {});
  template <class I>
  void optional_integer(std::string_view key, std::optional<I>& out, std::int64_t min = 0,
                        std::int64_t max = max_of<I>());
  template <class E>
  void optional_enumeration(std::string_view key, E& out,
                            std::optional<E> (*parse)(std::string_view), std::string_view allowed);

  // Nested objects: fn(ObjectReader&) reads the inner fields.
  template <class Fn>
  void object(std::string_view key, Fn&& fn);
  template <class Fn>
  bool optional_object(std::string_view key, Fn&& fn);
  // Array of objects: fn(ObjectReader&, std::size_t index) per item.
  template <class Fn>
  void object_list(std::string_view key, Fn&& fn, std::size_t max_items = kMaxListItems);
  // Object used as a map of string values: fn(name, value) per member.
  template <class Fn>
  void string_map(std::string_view key, Fn&& fn, const StringRule& value_rule = {});

  // Request bodies: any key outside `known` is "<key>: unknown field".
  void only(std::initializer_list<std::string_view> known);

 private:
  template <class I>
  static constexpr std::int64_t max_of() {
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<I>::max());
    constexpr auto kInt64Max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    return static_cast<std::int64_t>(kMax < kInt64Max ? kMax : kInt64Max);
  }
  std::optional<element> find(std::string_view key) const;
  std::optional<element> require(std::string_view key);
  bool read_string(std::string_view key, element value, std::string& out, const StringRule& rule);
  bool read_integer(std::string_view key, element value, std::int64_t& out, std::int64_t min,
                    std::int64_t max);
  bool read_enum_text(std::string_view key, element value, std::string_view& out,
                      std::string_view allowed);

  simdjson::dom::object object_;
  std::string path_;
  ErrorSlot& errors_;
};

// "partition", "first_offset", "last_offset" of a range of loraplane.uploads (all required,
// non-negative, last_offset >= first_offset).
void read_upload_range(ObjectReader& r, std::int32_t& partition, std::int64_t& first_offset,
                       std::int64_t& last_offset);

// Parses `json` within `limits` into a DOM owned by a thread-local parser; the element is
// valid until the next call on this thread.
Result<element> load_document(std::string_view json, const ParseLimits& limits);

// Loads a document and reads its root object with read(ObjectReader&, T&).
template <class T, class Read>
Result<T> parse_document(std::string_view json, const ParseLimits& limits, Read&& read) {
  auto root = load_document(json, limits);
  if (!root) return root.error();
  ErrorSlot errors;
  ObjectReader reader(*root, "", errors);
  T out{};
  if (!reader.failed()) read(reader, out);
  if (errors.failed()) return errors.take();
  return out;
}

// ---- template definitions ----------------------------------------------------------------

template <class I>
void ObjectReader::integer(std::string_view key, I& out, std::int64_t min, std::int64_t max) {
  auto value = require(key);
  std::int64_t n = 0;
  if (value && read_integer(key, *value, n, min, max)) out = static_cast<I>(n);
}

template <class I>
void ObjectReader::optional_integer(std::string_view key, std::optional<I>& out, std::int64_t min,
                                    std::int64_t max) {
  if (failed()) return;
  auto value = find(key);
  std::int64_t n = 0;
  if (value && read_integer(key, *value, n, min, max)) out = static_cast<I>(n);
}

template <class E>
void ObjectReader::enumeration(std::string_view key, E& out,
                               std::optional<E> (*parse)(std::string_view),
                               std::string_view allowed) {
  auto value = require(key);
  std::string_view text;
  if (!value || !read_enum_text(key, *value, text, allowed)) return;
  if (auto parsed = parse(text)) {
    out = *parsed;
  } else {
    fail(key, std::string("must be one of ") + std::string(allowed));
  }
}

template <class E>
void ObjectReader::optional_enumeration(std::string_view key, E& out,
                                        std::optional<E> (*parse)(std::string_view),
                                        std::string_view allowed) {
  if (failed() || !find(key)) return;
  enumeration(key, out, parse, allowed);
}

template <class Fn>
void ObjectReader::object(std::string_view key, Fn&& fn) {
  auto value = require(key);
  if (!value) return;
  ObjectReader inner(*value, path_of(key), errors_);
  if (!inner.failed()) fn(inner);
}

template <class Fn>
bool ObjectReader::optional_object(std::string_view key, Fn&& fn) {
  if (failed() || !find(key)) return false;
  object(key, fn);
  return !failed();
}

template <class Fn>
void ObjectReader::object_list(std::string_view key, Fn&& fn, std::size_t max_items) {
  auto value = require(key);
  if (!value) return;
  simdjson::dom::array items;
  if (value->get_array().get(items) != simdjson::SUCCESS) {
    fail(key, "must be an array");
    return;
  }
  if (items.size() > max_items) {
    fail(key, "must have at most " + std::to_string(max_items) + " items");
    return;
  }
  std::size_t index = 0;
  for (element item : items) {
    ObjectReader inner(item, path_of(key) + "[" + std::to_string(index) + "]", errors_);
    if (inner.failed()) return;
    fn(inner, index);
    if (failed()) return;
    ++index;
  }
}

template <class Fn>
void ObjectReader::string_map(std::string_view key, Fn&& fn, const StringRule& value_rule) {
  auto value = require(key);
  if (!value) return;
  ObjectReader inner(*value, path_of(key), errors_);
  if (inner.failed()) return;
  for (auto field : inner.object_) {
    std::string text;
    if (!inner.read_string(field.key, field.value, text, value_rule)) return;
    fn(field.key, std::move(text));
  }
}

}  // namespace loraplane::schema::detail
