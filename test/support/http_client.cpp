#include "test/support/http_client.hpp"

#include <stdexcept>

#include "common/http_call.hpp"

namespace loraplane::test {

HttpResult http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body,
                        const std::map<std::string, std::string>& headers) {
  auto result = http::call(http::Endpoint{"127.0.0.1", port, ""}, method, target, body, headers);
  if (!result) throw std::runtime_error(result.error().message);
  return HttpResult{result->status, std::move(result->body), std::move(result->headers)};
}

}  // namespace loraplane::test
