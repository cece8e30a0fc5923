#include "common/http_call.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>

#include "common/asio.hpp"
#include "common/blocking_io.hpp"

namespace loraplane::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;

Result<Endpoint> parse_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme))
    return make_error(Errc::invalid_argument,
                      "url must start with http:// (got '" + std::string(url) + "')");
  std::string_view rest = url.substr(kScheme.size());
  Endpoint out;
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    out.base_path = std::string(path);
  }
  const auto colon = authority.rfind(':');
  std::string_view host = authority.substr(0, colon);
  if (colon != std::string_view::npos) {
    std::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      return make_error(Errc::invalid_argument, "bad port in url '" + std::string(url) + "'");
    out.port = static_cast<std::uint16_t>(value);
  }
  if (host.empty()) return make_error(Errc::invalid_argument, "no host in url '" + std::string(url) + "'");
  out.host = std::string(host);
  return out;
}

std::string host_header(const Endpoint& endpoint) {
  return endpoint.port == 80 ? endpoint.host : endpoint.host + ":" + std::to_string(endpoint.port);
}

Result<CallResult> call(const Endpoint& endpoint, std::string_view method, std::string_view target,
                        std::string_view body, const std::map<std::string, std::string>& headers,
                        const CallOptions& options) {
  const auto verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown)
    return make_error(Errc::invalid_argument, "unknown HTTP method " + std::string(method));
  const std::string where = endpoint.host + ":" + std::to_string(endpoint.port);
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(options.timeout);
  boost::system::error_code ec;
  tcp::resolver resolver(io);
  auto addresses = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (!ec) ec = run_blocking(io, [&](auto done) { stream.async_connect(addresses, done); });
  if (ec) return make_error(Errc::unavailable, "cannot connect to " + where + ": " + ec.message());

  bhttp::request<bhttp::string_body> req{verb, endpoint.base_path + std::string(target), 11};
  req.set(bhttp::field::host, host_header(endpoint));
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() && req.find(bhttp::field::content_type) == req.end())
    req.set(bhttp::field::content_type, "application/json");
  req.body() = std::string(body);
  req.prepare_payload();
  // The timeout bounds the whole exchange.
  ec = run_blocking(io, [&](auto done) { bhttp::async_write(stream, req, done); });
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(options.max_body_bytes);
  if (!ec)
    ec = run_blocking(io, [&](auto done) { bhttp::async_read(stream, buffer, parser, done); });
  if (ec) return make_error(Errc::unavailable, "request to " + where + " failed: " + ec.message());
  CallResult out;
  out.status = static_cast<int>(parser.get().result_int());
  out.body = std::move(parser.get().body());
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(field.value());
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

}  // namespace loraplane::http
