#include "gateway/errors.hpp"

#include <optional>

namespace loraplane::gateway::errors {

namespace {

std::optional<std::string_view> opt(std::string_view s) {
  return s.empty() ? std::nullopt : std::optional<std::string_view>(s);
}

// 401 with the Bearer challenge, as every missing or refused credential gets.
http::Response unauthorized(std::string_view code, std::string_view message) {
  auto res = http::error_response(http::Status::unauthorized, "invalid_request_error", code,
                                  message);
  res.set(http::beast::http::field::www_authenticate, "Bearer");
  return res;
}

}  // namespace

http::Response invalid_request(std::string_view message, std::string_view param,
                               std::string_view code) {
  return http::error_response(http::Status::bad_request, "invalid_request_error", opt(code),
                              message, opt(param));
}

http::Response invalid_api_key() {
  return unauthorized("invalid_api_key",
                      "Incorrect API key provided. Pass a valid key as "
                      "'Authorization: Bearer pk-prov-...'.");
}

http::Response invalid_api_key(const http::RequestHeader& request) {
  if (!http::bearer_token(request).empty()) return invalid_api_key();
  return unauthorized("invalid_api_key",
                      "You didn't provide an API key. Pass it as "
                      "'Authorization: Bearer pk-prov-...'.");
}

http::Response admin_unauthorized() {
  return unauthorized("invalid_admin_token",
                      "Admin endpoints need 'Authorization: Bearer <LORAPLANE_ADMIN_TOKEN>'.");
}

http::Response not_found(std::string_view code, std::string_view message) {
  return http::error_response(http::Status::not_found, "invalid_request_error", code, message);
}

http::Response model_not_found(std::string_view model) {
  // Nothing leaks: another tenant's adapter reads exactly like a missing one.
  return http::error_response(
      http::Status::not_found, "invalid_request_error", "model_not_found",
      "The model `" + std::string(model) + "` does not exist or you do not have access to it.",
      "model");
}

http::Response conflict(std::string_view code, std::string_view message) {
  return http::error_response(http::Status::conflict, "invalid_request_error", code, message);
}

http::Response unavailable(std::string_view message, int retry_after_seconds) {
  auto res = http::error_response(http::Status::service_unavailable, "server_error",
                                  "service_unavailable", message);
  res.set(http::beast::http::field::retry_after, std::to_string(retry_after_seconds));
  return res;
}

http::Response rate_limited(std::string_view message, int retry_after_seconds) {
  auto res = http::error_response(http::Status::too_many_requests, "rate_limit_error",
                                  "rate_limit_exceeded", message);
  res.set(http::beast::http::field::retry_after, std::to_string(retry_after_seconds));
  return res;
}

http::Response from_error(const Error& error, std::string_view param) {
  switch (error.code) {
    case Errc::invalid_argument:
    case Errc::corrupt:
      return invalid_request(error.message, param);
    case Errc::not_found:
      return not_found("not_found", error.message);
    case Errc::already_exists:
    case Errc::conflict:
      return conflict("conflict", error.message);
    case Errc::limit_exceeded: {
      auto res = http::error_response(http::Status::too_many_requests, "rate_limit_error",
                                      "rate_limit_exceeded", error.message);
      res.set(http::beast::http::field::retry_after, "1");
      return res;
    }
    case Errc::unavailable:
    case Errc::io:
      return unavailable(error.message);
    case Errc::internal:
      break;
  }
  return http::error_response(http::Status::internal_server_error, "server_error",
                              "internal_error", "internal error");
}

}  // namespace loraplane::gateway::errors
