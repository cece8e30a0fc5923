// Test helper: a blocking HTTP/1.1 client for talking to a running loraplane in tests.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace loraplane::test {

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// One request on a fresh connection to 127.0.0.1:port. Throws on connection failure.
HttpResult http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body = {},
                        const std::map<std::string, std::string>& headers = {});

}  // namespace loraplane::test
