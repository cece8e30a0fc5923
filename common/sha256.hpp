// Streaming SHA-256 (OpenSSL EVP) and hex helpers.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace loraplane {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(std::string_view bytes);
  void update(std::span<const std::uint8_t> bytes);
  std::array<std::uint8_t, 32> finish();  // resets for reuse
  std::string finish_hex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view bytes);
std::string to_hex(std::span<const std::uint8_t> bytes);
bool is_sha256_hex(std::string_view s);
// Constant-time comparison of equal-length strings (false when lengths differ).
bool constant_time_equal(std::string_view a, std::string_view b);
// Cryptographically random bytes / base62 string (OpenSSL RAND_bytes).
std::string random_base62(std::size_t length);

}  // namespace loraplane
