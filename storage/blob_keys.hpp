// Byte layouts of the blob column families: chunk keys (sha256 hex + big-endian u32 index, so a
// blob's chunks sort in order after its head key), reference keys (sha256 + '/' + owner) and
// the fixed-size binary manifest. No RocksDB types here, so the layouts are testable alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loraplane::storage::blob_keys {

inline constexpr std::size_t kShaHexSize = 64;
inline constexpr std::size_t kChunkKeySize = kShaHexSize + 4;

// Lower-cases and validates a sha256 hex string; nullopt when malformed.
std::optional<std::string> normalize_sha(std::string_view sha);

// The blob's head key is the bare sha: an empty value written with the pending marker. It is
// the first key of the blob's range, so a sweep can find every blob with chunks by seeking
// from head to head without loading any (BlobDB-separated) chunk value.
inline std::string head_key(std::string_view sha) { return std::string(sha); }
std::string chunk_key(std::string_view sha, std::uint32_t index);
// Exclusive end of every chunk-family key of `sha` (head and chunks), for DeleteRange.
std::string chunk_range_end(std::string_view sha);

std::string ref_prefix(std::string_view sha);
std::string ref_key(std::string_view sha, std::string_view owner);

std::uint64_t chunk_count_for(std::uint64_t size, std::uint32_t chunk_size);

struct Manifest {
  std::uint64_t size = 0;
  std::uint32_t chunk_size = 0;
  std::uint32_t chunk_count = 0;
  std::int64_t created = 0;  // seconds since the epoch; refreshed when a duplicate write commits
};

std::string encode_manifest(const Manifest& m);
// nullopt when the bytes are not a manifest this version understands, or are inconsistent.
std::optional<Manifest> decode_manifest(std::string_view bytes);

std::string encode_time(std::int64_t seconds);

}  // namespace loraplane::storage::blob_keys
