// Encoding of blob keys and manifests (see blob_keys.hpp).
#include "storage/blob_keys.hpp"

#include "common/sha256.hpp"

namespace loraplane::storage::blob_keys {
namespace {

constexpr char kManifestVersion = 1;
constexpr std::size_t kManifestSize = 1 + 8 + 4 + 4 + 8;

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_le(std::string_view in, std::size_t pos, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= std::uint64_t{static_cast<unsigned char>(in[pos + i])} << (8 * i);
  return v;
}

}  // namespace

std::optional<std::string> normalize_sha(std::string_view sha) {
  std::string out(sha);
  for (char& c : out)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  if (!is_sha256_hex(out)) return std::nullopt;
  return out;
}

std::string chunk_key(std::string_view sha, std::uint32_t index) {
  std::string key(sha);
  for (int shift = 24; shift >= 0; shift -= 8)
    key.push_back(static_cast<char>((index >> shift) & 0xff));
  return key;
}

std::string chunk_range_end(std::string_view sha) {
  // Greater than sha + any 4-byte index: one byte longer than the longest chunk key.
  return std::string(sha) + std::string(5, '\xff');
}

std::string ref_prefix(std::string_view sha) { return std::string(sha) + '/'; }

std::string ref_key(std::string_view sha, std::string_view owner) {
  std::string key = ref_prefix(sha);
  key.append(owner);
  return key;
}

std::uint64_t chunk_count_for(std::uint64_t size, std::uint32_t chunk_size) {
  return size / chunk_size + (size % chunk_size != 0 ? 1 : 0);
}

std::string encode_manifest(const Manifest& m) {
  std::string out;
  out.reserve(kManifestSize);
  out.push_back(kManifestVersion);
  put_le(out, m.size, 8);
  put_le(out, m.chunk_size, 4);
  put_le(out, m.chunk_count, 4);
  put_le(out, static_cast<std::uint64_t>(m.created), 8);
  return out;
}

std::optional<Manifest> decode_manifest(std::string_view bytes) {
  if (bytes.size() != kManifestSize || bytes[0] != kManifestVersion) return std::nullopt;
  Manifest m;
  m.size = get_le(bytes, 1, 8);
  m.chunk_size = static_cast<std::uint32_t>(get_le(bytes, 9, 4));
  m.chunk_count = static_cast<std::uint32_t>(get_le(bytes, 13, 4));
  m.created = static_cast<std::int64_t>(get_le(bytes, 17, 8));
  if (m.chunk_size == 0 || chunk_count_for(m.size, m.chunk_size) != m.chunk_count)
    return std::nullopt;
  return m;
}

std::string encode_time(std::int64_t seconds) {
  std::string out;
  put_le(out, static_cast<std::uint64_t>(seconds), 8);
  return out;
}

}  // namespace loraplane::storage::blob_keys
