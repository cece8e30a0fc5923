// Bounded document loading and the field readers shared by every schema parser.
#include "schema/reader_impl.hpp"

#include <algorithm>

namespace loraplane::schema::detail {
namespace {

std::string type_message(std::string_view expected) {
  return std::string("must be ") + std::string(expected);
}

}  // namespace

bool valid_sha256_or_empty(std::string_view hex) { return hex.empty() || valid_sha256(hex); }

void ErrorSlot::fail(std::string_view path, std::string_view what) {
  if (error_) return;
  std::string message(path.empty() ? std::string_view("document") : path);
  message += ": ";
  message += what;
  error_ = make_error(Errc::invalid_argument, std::move(message));
}

}  // namespace loraplane::schema::detail

namespace loraplane::schema {

std::optional<std::string> error_field(const Error& error) {
  if (error.code != Errc::invalid_argument) return std::nullopt;
  const auto colon = error.message.find(": ");
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string field = error.message.substr(0, colon);
  if (field == "document") return std::nullopt;
  return field;
}

}  // namespace loraplane::schema

namespace loraplane::schema::detail {

Result<element> load_document(std::string_view json, const ParseLimits& limits) {
  if (json.size() > limits.max_bytes) {
    return make_error(Errc::invalid_argument,
                      "document: larger than " + std::to_string(limits.max_bytes) + " bytes");
  }
  thread_local simdjson::dom::parser parser;
  // simdjson counts the root container as depth 1, as we do.
  const std::size_t capacity = std::max<std::size_t>(json.size(), 64);
  if (parser.capacity() < capacity || parser.max_depth() != limits.max_depth) {
    auto grown = std::max(capacity, parser.capacity());
    if (parser.allocate(grown, limits.max_depth) != simdjson::SUCCESS) {
      return make_error(Errc::internal, "document: out of memory for the JSON parser");
    }
  }
  element root;
  auto code = parser.parse(json.data(), json.size(), true).get(root);
  if (code == simdjson::DEPTH_ERROR) {
    return make_error(Errc::invalid_argument, "document: nested deeper than " +
                                                  std::to_string(limits.max_depth) + " levels");
  }
  if (code != simdjson::SUCCESS) {
    return make_error(Errc::invalid_argument, std::string("document: invalid JSON (") +
                                                  simdjson::error_message(code) + ")");
  }
  return root;
}

ObjectReader::ObjectReader(element value, std::string path, ErrorSlot& errors)
    : path_(std::move(path)), errors_(errors) {
  if (value.get_object().get(object_) != simdjson::SUCCESS) {
    errors_.fail(path_, path_.empty() ? "must be a JSON object" : "must be an object");
    return;
  }
  std::vector<std::string_view> keys;
  keys.reserve(object_.size());
  for (auto field : object_) keys.push_back(field.key);
  std::sort(keys.begin(), keys.end());
  auto dup = std::adjacent_find(keys.begin(), keys.end());
  if (dup != keys.end()) fail(*dup, "duplicate key");
}

std::string ObjectReader::path_of(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  if (key.empty()) return path_;
  return path_ + "." + std::string(key);
}

void ObjectReader::fail(std::string_view key, std::string_view what) {
  errors_.fail(path_of(key), what);
}

std::optional<element> ObjectReader::find(std::string_view key) const {
  element value;
  if (object_.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

std::optional<element> ObjectReader::require(std::string_view key) {
  if (failed()) return std::nullopt;
  auto value = find(key);
  if (!value) fail(key, "is required");
  return value;
}

bool ObjectReader::read_string(std::string_view key, element value, std::string& out,
                               const StringRule& rule) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    fail(key, type_message("a string"));
    return false;
  }
  if (rule.check != nullptr) {  // the check covers length too
    if (!rule.check(text)) {
      fail(key, rule.message);
      return false;
    }
  } else if (text.size() < rule.min) {
    fail(key, rule.min == 1 ? std::string("must not be empty")
                            : "must be at least " + std::to_string(rule.min) + " bytes long");
    return false;
  } else if (text.size() > rule.max) {
    fail(key, "must be at most " + std::to_string(rule.max) + " bytes long");
    return false;
  }
  out.assign(text);
  return true;
}

bool ObjectReader::read_integer(std::string_view key, element value, std::int64_t& out,
                                std::int64_t min, std::int64_t max) {
  const auto type = value.type();
  if (type == simdjson::dom::element_type::UINT64) {  // above INT64_MAX: out of any range
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return false;
  }
  if (type != simdjson::dom::element_type::INT64) {
    fail(key, type_message("an integer"));
    return false;
  }
  const std::int64_t n = value.get_int64().value_unsafe();
  if (n < min || n > max) {
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return false;
  }
  out = n;
  return true;
}

bool ObjectReader::read_enum_text(std::string_view key, element value, std::string_view& out,
                                  std::string_view allowed) {
  if (value.get_string().get(out) != simdjson::SUCCESS) {
    fail(key, "must be one of " + std::string(allowed));
    return false;
  }
  return true;
}

void ObjectReader::string(std::string_view key, std::string& out, const StringRule& rule) {
  if (auto value = require(key)) read_string(key, *value, out, rule);
}

void ObjectReader::boolean(std::string_view key, bool& out) {
  auto value = require(key);
  if (!value) return;
  if (value->get_bool().get(out) != simdjson::SUCCESS) fail(key, type_message("true or false"));
}

void ObjectReader::number(std::string_view key, double& out) {
  auto value = require(key);
  if (!value) return;
  if (!value->is_number()) {
    fail(key, type_message("a number"));
    return;
  }
  out = value->get_double().value_unsafe();
}

void ObjectReader::string_list(std::string_view key, std::vector<std::string>& out,
                               const StringRule& rule) {
  auto value = require(key);
  if (!value) return;
  simdjson::dom::array items;
  if (value->get_array().get(items) != simdjson::SUCCESS) {
    fail(key, type_message("an array of strings"));
    return;
  }
  if (items.size() > kMaxListItems) {
    fail(key, "must have at most " + std::to_string(kMaxListItems) + " items");
    return;
  }
  out.clear();
  out.reserve(items.size());
  std::size_t index = 0;
  for (element item : items) {
    std::string text;
    if (!read_string(std::string(key) + "[" + std::to_string(index++) + "]", item, text, rule)) {
      return;
    }
    out.push_back(std::move(text));
  }
}

void ObjectReader::constant(std::string_view key, std::string_view expected) {
  auto value = require(key);
  if (!value) return;
  std::string_view text;
  if (value->get_string().get(text) != simdjson::SUCCESS || text != expected) {
    fail(key, "must be \"" + std::string(expected) + "\"");
  }
}

void ObjectReader::require_true(std::string_view key) {
  auto value = require(key);
  if (!value) return;
  bool flag = false;
  if (value->get_bool().get(flag) != simdjson::SUCCESS || !flag) fail(key, "must be true");
}

void ObjectReader::version(int& out) {
  auto value = require("version");
  std::int64_t n = 0;
  if (!value || !read_integer("version", *value, n, std::numeric_limits<int>::min(),
                              std::numeric_limits<int>::max())) {
    return;
  }
  if (n != kEventVersion) {
    fail("version", "unsupported version " + std::to_string(n) + " (this build reads " +
                        std::to_string(kEventVersion) + ")");
    return;
  }
  out = static_cast<int>(n);
}

void ObjectReader::optional_string(std::string_view key, std::optional<std::string>& out,
                                   const StringRule& rule) {
  if (failed()) return;
  auto value = find(key);
  if (!value) return;
  std::string text;
  if (read_string(key, *value, text, rule)) out = std::move(text);
}

void ObjectReader::nullable_string(std::string_view key, std::optional<std::string>& out,
                                   const StringRule& rule, bool required) {
  if (failed()) return;
  auto value = required ? require(key) : find(key);
  if (!value || value->is_null()) return;
  if (!value->is_string()) {
    fail(key, type_message("a string or null"));
    return;
  }
  optional_string(key, out, rule);
}

void ObjectReader::optional_string(std::string_view key, std::string& out, const StringRule& rule) {
  if (failed()) return;
  if (auto value = find(key)) read_string(key, *value, out, rule);
}

void ObjectReader::optional_number(std::string_view key, std::optional<double>& out) {
  if (failed() || !find(key)) return;
  double n = 0;
  number(key, n);
  if (!failed()) out = n;
}

void ObjectReader::optional_boolean(std::string_view key, bool& out) {
  if (failed() || !find(key)) return;
  boolean(key, out);
}

void ObjectReader::optional_string_list(std::string_view key, std::vector<std::string>& out,
                                        const StringRule& rule) {
  if (failed() || !find(key)) return;
  string_list(key, out, rule);
}

void read_upload_range(ObjectReader& r, std::int32_t& partition, std::int64_t& first_offset,
                       std::int64_t& last_offset) {
  r.integer("partition", partition);
  r.integer("first_offset", first_offset);
  r.integer("last_offset", last_offset);
  if (!r.failed() && last_offset < first_offset) {
    r.fail("last_offset", "must not be less than first_offset");
  }
}

void ObjectReader::only(std::initializer_list<std::string_view> known) {
  if (failed()) return;
  for (auto field : object_) {
    if (std::find(known.begin(), known.end(), field.key) == known.end()) {
      fail(field.key, "unknown field");
      return;
    }
  }
}

}  // namespace loraplane::schema::detail
