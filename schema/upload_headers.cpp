// Kafka header form of UploadChunkHeader. Parsing rebuilds the JSON form and runs the one
// parser, so both forms obey the same rules.
#include "schema/upload_headers.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>

#include "common/request_id.hpp"
#include "schema/json.hpp"
#include "schema/writer_impl.hpp"

namespace loraplane::schema {
namespace {

constexpr std::array<std::string_view, 5> kFields = {"version", "upload_id", "index", "count",
                                                     "last"};

bool is_decimal(std::string_view text) {
  return !text.empty() && text.size() <= 19 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Header text → the JSON value it stands for; nullopt for text that is not that type.
std::optional<boost::json::value> field_value(std::string_view name, std::string_view text) {
  if (name == "upload_id") return boost::json::value(boost::json::string_view(text));
  if (name == "last") {
    if (text == "true") return boost::json::value(true);
    if (text == "false") return boost::json::value(false);
    return std::nullopt;
  }
  if (!is_decimal(text)) return std::nullopt;
  return boost::json::value(static_cast<std::int64_t>(std::stoll(std::string(text))));
}

}  // namespace

std::vector<kafka::Header> to_headers(const UploadChunkHeader& header) {
  std::vector<kafka::Header> out;
  out.push_back({"version", std::to_string(header.version)});
  out.push_back({"upload_id", header.upload_id});
  out.push_back({"index", std::to_string(header.index)});
  if (header.count) out.push_back({"count", std::to_string(*header.count)});
  out.push_back({"last", header.last ? "true" : "false"});
  return out;
}

std::vector<kafka::Header> to_headers(const UploadChunkHeader& header, std::string_view request_id) {
  auto out = to_headers(header);
  for (auto& h : kafka::request_id_headers(request_id)) out.push_back(std::move(h));
  return out;
}

Result<UploadChunkHeader> parse_headers(const std::vector<kafka::Header>& headers) {
  boost::json::object doc;
  for (const auto& header : headers) {
    if (std::find(kFields.begin(), kFields.end(), header.key) == kFields.end()) continue;
    if (doc.contains(header.key)) {
      return make_error(Errc::invalid_argument, header.key + ": repeated header");
    }
    auto value = field_value(header.key, header.value);
    if (!value) {
      const char* what = header.key == "last" ? ": must be true or false" : ": must be an integer";
      return make_error(Errc::invalid_argument, header.key + what);
    }
    doc[header.key] = std::move(*value);
  }
  return parse<UploadChunkHeader>(detail::serialize(doc));
}

}  // namespace loraplane::schema
