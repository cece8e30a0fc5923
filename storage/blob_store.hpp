// Content-addressed, chunked blob store on RocksDB. A blob is named by the sha256 of its bytes
// and stored as chunks keyed (sha256, index); its manifest is written last, in one synced
// batch, after the running sha256 of the streamed bytes matched the expected one, so a
// half-written blob is never visible. References are per owner (idempotent add/remove); when
// the last one goes, the chunks and manifest are deleted.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace loraplane::storage {

inline constexpr std::uint32_t kDefaultChunkSize = 8u << 20;  // 8 MiB, within the 4-16 MiB band
inline constexpr std::uint32_t kMinChunkSize = 4u << 20;
inline constexpr std::uint32_t kMaxChunkSize = 16u << 20;

struct BlobStoreOptions {
  // Chunk size for new blobs, clamped to [kMinChunkSize, kMaxChunkSize]. Existing blobs keep
  // the chunk size recorded in their manifest.
  std::uint32_t chunk_size = kDefaultChunkSize;
  // Tests only: skip the clamp so tiny chunks (>= 1 byte) exercise chunk boundaries cheaply.
  bool allow_tiny_chunks_for_tests = false;
  // begin_write of a blob another writer is still writing waits this long for it to finish,
  // then fails with Errc::unavailable (retryable).
  std::chrono::milliseconds same_blob_wait{30'000};
  // Seconds since the epoch; empty = system clock. Tests inject one to age blobs for GC.
  std::function<std::int64_t()> clock;
};

// Counts from walking the column families. Walking chunk keys reads their values (RocksDB 7.8
// iterators load BlobDB values eagerly), so this is for tests and offline diagnosis only.
struct BlobStoreStats {
  std::uint64_t blobs = 0;           // manifests
  std::uint64_t chunk_keys = 0;      // data chunks, committed or not
  std::uint64_t chunk_bytes = 0;
  std::uint64_t pending_writes = 0;  // write-in-progress markers
  std::uint64_t refs = 0;
};

struct BlobInfo {
  std::string sha256;  // lower-case hex
  std::uint64_t size = 0;
  std::uint32_t chunk_size = 0;
  std::uint32_t chunk_count = 0;
};

// Streams one blob in. Bytes are buffered up to one chunk, then written; memory use is one
// chunk whatever the blob size. Destroying an uncommitted writer removes its chunks.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual Status append(std::string_view bytes) = 0;
  // Verifies size and sha256 and makes the blob visible. Errc::corrupt on a mismatch (nothing
  // becomes visible and the written chunks are removed).
  virtual Result<BlobInfo> commit() = 0;
  virtual void abort() = 0;
};

// Bytes handed out by BlobStore::read_pinned: they stay valid while this object lives, on any
// thread.
class PinnedBytes {
 public:
  virtual ~PinnedBytes() = default;
  virtual std::string_view bytes() const = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Starts a write of the blob whose content hashes to `sha256` and is `size` bytes long. If
  // the blob already exists, the writer accepts and discards the bytes, and commit() still
  // verifies them. Errc::invalid_argument for a malformed sha256.
  virtual Result<std::unique_ptr<BlobWriter>> begin_write(std::string_view sha256,
                                                          std::uint64_t size) = 0;
  virtual std::optional<BlobInfo> stat(std::string_view sha256) = 0;
  // Streams bytes [offset, offset + length) to `sink` in pieces of at most one chunk.
  // length == npos reads to the end. Errc::not_found / Errc::invalid_argument (range outside).
  static constexpr std::uint64_t npos = ~std::uint64_t{0};
  virtual Status read(std::string_view sha256, std::uint64_t offset, std::uint64_t length,
                      const std::function<Status(std::string_view piece)>& sink) = 0;
  // Bytes [offset, offset + length) that lie within one chunk, left in the buffer the store read
  // them into (no copy). Errors as read(); Errc::invalid_argument when the range crosses a chunk
  // boundary. The default copies through read().
  virtual Result<std::unique_ptr<PinnedBytes>> read_pinned(std::string_view sha256,
                                                           std::uint64_t offset,
                                                           std::uint64_t length);
  // References: `owner` is e.g. an adapter id. Idempotent.
  virtual Status add_ref(std::string_view sha256, std::string_view owner) = 0;
  // Removes the reference; deletes the blob when it was the last. Idempotent.
  virtual Status remove_ref(std::string_view sha256, std::string_view owner) = 0;
  virtual std::uint64_t ref_count(std::string_view sha256) = 0;
  // Deletes committed blobs with no reference (e.g. written by a worker that died before it
  // added its reference) older than `min_age_seconds`. Returns the number deleted. Also
  // removes orphan chunks and compacts, so disk files holding only deleted blobs are freed.
  // `stop` (may be null), set from any thread, cuts the collection short: it returns soon with
  // Errc::unavailable, its compaction stopped where it was (the store stays whole). What it left
  // undone is redone by the next collection, or by the first one after the store is opened
  // again. For shutdown: a relocation of a large store can take minutes.
  virtual Result<std::uint64_t> collect_garbage(std::int64_t min_age_seconds,
                                                std::atomic<bool>* stop) = 0;
  Result<std::uint64_t> collect_garbage(std::int64_t min_age_seconds) {
    return collect_garbage(min_age_seconds, nullptr);
  }
  // Total bytes of committed blobs (for the blob-store-size metric).
  virtual std::uint64_t total_bytes() = 0;
  // See BlobStoreStats. Not pure so that other implementations need not provide it.
  virtual Result<BlobStoreStats> scan_stats() {
    return make_error(Errc::internal, "scan_stats not supported");
  }
};

}  // namespace loraplane::storage
