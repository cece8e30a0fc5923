// Re-reading an upload's chunks from loraplane.uploads (by the partition and offset range the
// gateway recorded) and checking them against the job: headers in order, byte count, sha256
// and the safetensors header. Streams: only the safetensors header is ever buffered.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/kafka.hpp"
#include "common/result.hpp"
#include "common/sha256.hpp"
#include "schema/adapter/safetensors.hpp"
#include "schema/types.hpp"

namespace loraplane::validate {

struct ReceivedUpload {
  adapter::SafetensorsHeader header;
  std::uint64_t size_bytes = 0;
  std::string sha256;
};

// Checks the messages of one partition range, in offset order, as one upload's chunks.
// Messages of other uploads (other keys or upload ids) are skipped, so are repeats of a chunk
// index already taken. Errors are Errc::invalid_argument with a message naming the chunk,
// field or tensor at fault.
class ChunkAssembler {
 public:
  ChunkAssembler(const schema::JobUpload& job, std::uint64_t max_header_bytes);
  Status accept(const kafka::Message& message);
  Result<ReceivedUpload> finish();
  std::uint32_t duplicates() const { return duplicates_; }

 private:
  Status take(const kafka::Message& message, const schema::UploadChunkHeader& header);

  const schema::JobUpload& job_;
  Sha256 sha_;
  adapter::HeaderReader reader_;
  std::uint64_t bytes_ = 0;
  std::uint32_t next_index_ = 0;
  bool last_seen_ = false;
  std::uint32_t duplicates_ = 0;
};

// Reads the job's chunks with kafka::read_range and assembles them. Errc::invalid_argument: the
// bytes are not a valid adapter file or do not match the job (the adapter fails);
// Errc::not_found: the chunks are no longer in the log; anything else is a Kafka failure worth
// retrying.
Result<ReceivedUpload> read_upload(const kafka::Cluster& cluster, const schema::JobUpload& job,
                                   std::chrono::milliseconds idle_timeout);

}  // namespace loraplane::validate
