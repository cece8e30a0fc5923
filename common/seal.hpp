// Secrets that must cross Kafka (a tenant's hf_token in an import job) travel sealed:
// AES-256-GCM under a key shared by gateways and validate workers (LORAPLANE_SEAL_KEY, 64 hex
// digits; `loraplane up` makes one in its data dir). Sealed text is hex(nonce | ciphertext |
// tag); the clear secret is never logged nor stored.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace loraplane {

class Sealer {
 public:
  // Errc::invalid_argument unless `hex_key` is 64 hex digits.
  static Result<Sealer> from_hex(std::string_view hex_key);
  // From $LORAPLANE_SEAL_KEY; nullopt when unset (an error when set but malformed).
  static Result<std::optional<Sealer>> from_env();
  static std::string generate_hex_key();

  std::string seal(std::string_view secret) const;
  // Errc::corrupt when the text was not sealed with this key or was altered.
  Result<std::string> open(std::string_view sealed) const;

 private:
  std::array<std::uint8_t, 32> key_{};
};

}  // namespace loraplane
