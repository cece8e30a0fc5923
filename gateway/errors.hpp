// The gateway's OpenAI-style errors: one place maps each failure to status, type and code.
#pragma once

#include <string>
#include <string_view>

#include "common/http.hpp"
#include "common/result.hpp"

namespace loraplane::gateway::errors {

http::Response invalid_request(std::string_view message, std::string_view param = {},
                               std::string_view code = {});
http::Response invalid_api_key();
// The same for a request: a missing Authorization header is named as missing.
http::Response invalid_api_key(const http::RequestHeader& request);
http::Response admin_unauthorized();
http::Response not_found(std::string_view code, std::string_view message);
// 404 model_not_found, in the same words whether the base, the adapter or the tenant is wrong.
http::Response model_not_found(std::string_view model);
http::Response conflict(std::string_view code, std::string_view message);
// 503 with Retry-After, for a dependency (Kafka) that is down or saturated.
http::Response unavailable(std::string_view message, int retry_after_seconds = 1);
// 429 rate_limit_exceeded with Retry-After.
http::Response rate_limited(std::string_view message, int retry_after_seconds);
// Maps an Error from a lower layer; invalid_argument → 400 naming the message, unavailable and
// io → 503, limit_exceeded → 429, not_found → 404, already_exists → 409, anything else → 500 without internals.
http::Response from_error(const Error& error, std::string_view param = {});

}  // namespace loraplane::gateway::errors
