// A blocking one-shot HTTP/1.1 request on a fresh connection: for command-line clients
// (`loraplane admin`) and tests, never for the serving path (roles use coroutines).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace loraplane::http {

struct Endpoint {
  std::string host;
  std::uint16_t port = 80;
  std::string base_path;  // "" or "/prefix" without a trailing slash
};

// "http://host[:port][/prefix]"; Errc::invalid_argument names what is wrong (https is not
// supported by this client).
Result<Endpoint> parse_http_url(std::string_view url);

// The Host header for `endpoint`: "host", or "host:port" off port 80.
std::string host_header(const Endpoint& endpoint);

struct CallResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

struct CallOptions {
  std::chrono::milliseconds timeout{30'000};  // connect + write + read
  std::size_t max_body_bytes = 64 * 1024 * 1024;
};

// Errc::unavailable when the server cannot be reached or the exchange fails or times out.
// A body without a Content-Type header is sent as application/json.
Result<CallResult> call(const Endpoint& endpoint, std::string_view method, std::string_view target,
                        std::string_view body = {},
                        const std::map<std::string, std::string>& headers = {},
                        const CallOptions& options = {});

}  // namespace loraplane::http
