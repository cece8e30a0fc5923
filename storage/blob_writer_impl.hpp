// Private to storage/: streams one blob into chunks, buffering at most one chunk, and verifies
// size and sha256 before the store makes it visible.
#pragma once

#include <string>

#include "common/sha256.hpp"
#include "storage/blob_store.hpp"

namespace loraplane::storage {

class BlobStoreImpl;

class BlobWriterImpl final : public BlobWriter {
 public:
  enum class Mode {
    owner,   // writes chunks; holds the sha's write slot
    shared,  // the blob exists: hashes and discards the bytes; pins the blob
  };

  BlobWriterImpl(BlobStoreImpl& store, std::string sha, std::uint64_t size,
                 std::uint32_t chunk_size, Mode mode);
  ~BlobWriterImpl() override;
  BlobWriterImpl(const BlobWriterImpl&) = delete;
  BlobWriterImpl& operator=(const BlobWriterImpl&) = delete;

  Status append(std::string_view bytes) override;
  Result<BlobInfo> commit() override;
  void abort() override;

 private:
  Status write_chunk(std::string_view bytes);
  Error fail(Error error);  // aborts, then hands the error back

  BlobStoreImpl& store_;
  std::string sha_;
  std::uint64_t size_;
  std::uint32_t chunk_size_;
  Mode mode_;
  Sha256 hasher_;
  std::string buffer_;  // < one chunk of not yet written bytes
  std::uint64_t received_ = 0;
  std::uint32_t next_index_ = 0;
  bool finished_ = false;
};

}  // namespace loraplane::storage
