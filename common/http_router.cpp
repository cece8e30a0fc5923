// Route matching, request helpers and the response/error constructors of common/http.hpp.
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "common/http.hpp"

#include <cctype>

namespace loraplane::http {

namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    auto end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    out.emplace_back(path.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && in[i] == '+' ? ' ' : in[i]);
  }
  return out;
}

void Router::add(Verb method, std::string pattern, Handler handler) {
  auto segments = split_path(pattern);
  routes_.push_back({method, std::move(pattern), std::move(segments), std::move(handler), {}});
}

void Router::add_stream(Verb method, std::string pattern, StreamHandler handler) {
  auto segments = split_path(pattern);
  routes_.push_back({method, std::move(pattern), std::move(segments), {}, std::move(handler)});
}

Router::Match Router::match(Verb method, std::string_view path) const {
  Match result;
  auto segments = split_path(path);
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::vector<std::pair<std::string, std::string>> params;
    bool ok = true;
    for (std::size_t i = 0; i < segments.size() && ok; ++i) {
      const auto& want = route.segments[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
        params.emplace_back(want.substr(1, want.size() - 2), percent_decode(segments[i]));
      } else {
        ok = want == segments[i];
      }
    }
    if (!ok) continue;
    if (route.method != method) {
      result.method_not_allowed = true;
      continue;
    }
    result.handler = route.handler ? &route.handler : nullptr;
    result.stream_handler = route.stream_handler ? &route.stream_handler : nullptr;
    result.pattern = &route.pattern;
    result.params = std::move(params);
    result.method_not_allowed = false;
    return result;
  }
  return result;
}

std::string_view RequestContext::param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return {};
}

std::string_view RequestContext::path() const {
  std::string_view target = request.target();
  return target.substr(0, target.find('?'));
}

std::optional<std::string> RequestContext::query(std::string_view name) const {
  std::string_view target = request.target();
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq), true) == name)
      return eq == std::string_view::npos ? std::string()
                                          : percent_decode(pair.substr(eq + 1), true);
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return std::nullopt;
}

Response json_response(Status status, std::string body) {
  Response res{status, 11};
  res.set(beast::http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response text_response(Status status, std::string body, std::string_view content_type) {
  Response res{status, 11};
  res.set(beast::http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response error_response(Status status, std::string_view type, std::optional<std::string_view> code,
                        std::string_view message, std::optional<std::string_view> param) {
  boost::json::object error;
  error["message"] = message;
  error["type"] = type;
  error["param"] = param ? boost::json::value(*param) : boost::json::value(nullptr);
  error["code"] = code ? boost::json::value(*code) : boost::json::value(nullptr);
  boost::json::object body;
  body["error"] = std::move(error);
  return json_response(status, boost::json::serialize(body));
}

std::string_view bearer_token(const RequestHeader& request) {
  auto it = request.find(beast::http::field::authorization);
  if (it == request.end()) return {};
  std::string_view value = it->value();
  constexpr std::string_view kBearer = "Bearer ";
  if (value.size() <= kBearer.size()) return {};
  for (std::size_t i = 0; i < kBearer.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(value[i])) !=
        std::tolower(static_cast<unsigned char>(kBearer[i])))
      return {};
  value.remove_prefix(kBearer.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  return value;
}

}  // namespace loraplane::http
