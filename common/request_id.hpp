// The id of the client request a Kafka message was caused by (the gateway's x-request-id)
// travels in one header, so the workers and agents that act on the message log their lines
// about it with the same request id (common/log.hpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/kafka.hpp"

namespace loraplane::kafka {

inline constexpr std::string_view kRequestIdHeader = "loraplane-request-id";

// The headers that carry `request_id` (none when it is empty).
inline std::vector<Header> request_id_headers(std::string_view request_id) {
  if (request_id.empty()) return {};
  return {Header{std::string(kRequestIdHeader), std::string(request_id)}};
}

// The message's request id, or "" when it carries none.
inline std::string_view request_id_of(const Message& message) {
  const auto* id = message.header(kRequestIdHeader);
  return id ? std::string_view(*id) : std::string_view();
}

}  // namespace loraplane::kafka
