// Copies a validated upload from loraplane.uploads into the blob store: a range read of the
// partition that holds its chunks, streamed into a BlobWriter (memory: the read's bounded
// prefetch queue and one blob chunk), committed only if size and sha256 match. Blocking.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/kafka.hpp"
#include "common/result.hpp"
#include "schema/types.hpp"
#include "storage/blob_store.hpp"

namespace loraplane::distribute {

// A copy failed for good (bytes wrong or gone): trying again would fail the same way.
inline bool permanent_copy_error(Errc code) {
  return code == Errc::corrupt || code == Errc::not_found || code == Errc::invalid_argument ||
         code == Errc::limit_exceeded;
}

struct CopyRequest {
  schema::UploadLocation location;
  std::string sha256;
  std::uint64_t size = 0;
};

// Chunks of other uploads in the range are skipped, so are repeated indexes (a producer
// retry). Errors: Errc::corrupt (a missing chunk, wrong count, size or sha256: permanent),
// Errc::not_found (the range left the log: permanent), Errc::unavailable (retry).
Result<storage::BlobInfo> copy_upload(const kafka::Cluster& cluster, storage::BlobStore& store,
                                      const CopyRequest& request,
                                      std::chrono::milliseconds idle_timeout);

// Copies the blob from another storage node that serves it, for a node whose upload is no
// longer in loraplane.uploads (a node that joined later, or lost its disk): GET each of `urls`
// in turn, streamed into a BlobWriter and committed only if size and sha256 match, until one
// succeeds. Each read or write step has `idle_timeout`. Errors: Errc::not_found when every
// node answered 404 or served wrong bytes (nothing to retry), Errc::unavailable otherwise.
// Blocking.
Result<storage::BlobInfo> copy_from_peers(storage::BlobStore& store,
                                          const std::vector<std::string>& urls,
                                          const std::string& sha256, std::uint64_t size,
                                          std::chrono::milliseconds idle_timeout);

}  // namespace loraplane::distribute
