#include "common/seal.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "common/sha256.hpp"

namespace loraplane {

namespace {

constexpr std::size_t kNonce = 12, kTag = 16;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::vector<std::uint8_t>> decode_hex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  std::vector<std::uint8_t> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return out;
}

}  // namespace

Result<Sealer> Sealer::from_hex(std::string_view hex_key) {
  auto bytes = hex_key.size() == 64 ? decode_hex(hex_key) : std::nullopt;
  if (!bytes) return make_error(Errc::invalid_argument, "seal key must be 64 hex digits");
  Sealer s;
  std::copy(bytes->begin(), bytes->end(), s.key_.begin());
  return s;
}

Result<std::optional<Sealer>> Sealer::from_env() {
  const char* env = std::getenv("LORAPLANE_SEAL_KEY");
  if (!env || !*env) return std::optional<Sealer>{};
  auto s = from_hex(env);
  if (!s) return make_error(Errc::invalid_argument, "LORAPLANE_SEAL_KEY: " + s.error().message);
  return std::optional<Sealer>(std::move(s).value());
}

std::string Sealer::generate_hex_key() {
  std::array<std::uint8_t, 32> key{};
  RAND_bytes(key.data(), static_cast<int>(key.size()));
  return to_hex(key);
}

std::string Sealer::seal(std::string_view secret) const {
  std::vector<std::uint8_t> out(kNonce + secret.size() + kTag);
  RAND_bytes(out.data(), kNonce);
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), out.data());
  EVP_EncryptUpdate(ctx.get(), out.data() + kNonce, &len,
                    reinterpret_cast<const unsigned char*>(secret.data()), static_cast<int>(secret.size()));
  EVP_EncryptFinal_ex(ctx.get(), out.data() + kNonce + len, &len);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, out.data() + kNonce + secret.size());
  return to_hex(out);
}

Result<std::string> Sealer::open(std::string_view sealed) const {
  auto bytes = decode_hex(sealed);
  if (!bytes || bytes->size() < kNonce + kTag) return make_error(Errc::corrupt, "sealed secret is malformed");
  const std::size_t n = bytes->size() - kNonce - kTag;
  std::string out(n, '\0');
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), bytes->data());
  EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                    bytes->data() + kNonce, static_cast<int>(n));
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, bytes->data() + kNonce + n);
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) != 1)
    return make_error(Errc::corrupt, "sealed secret does not open with this key (LORAPLANE_SEAL_KEY differs?)");
  return out;
}

}  // namespace loraplane
