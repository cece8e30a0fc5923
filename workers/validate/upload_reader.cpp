#include "workers/validate/upload_reader.hpp"

#include <spdlog/spdlog.h>

#include "common/kafka_range.hpp"
#include "schema/upload_headers.hpp"

namespace loraplane::validate {

namespace {

Error invalid(std::string message) {
  return make_error(Errc::invalid_argument, std::move(message));
}

std::string at(const kafka::Message& m) { return "chunk at offset " + std::to_string(m.offset); }

}  // namespace

ChunkAssembler::ChunkAssembler(const schema::JobUpload& job, std::uint64_t max_header_bytes)
    : job_(job), reader_(max_header_bytes) {}

Status ChunkAssembler::accept(const kafka::Message& message) {
  if (message.key != job_.upload_id) return {};  // another upload sharing the partition
  auto header = schema::parse_headers(message.headers);
  if (!header) return invalid("upload: " + at(message) + ": " + header.error().message);
  if (header->upload_id != job_.upload_id) return {};
  if (header->index < next_index_) {
    ++duplicates_;  // a repeat of a chunk already taken: the first copy counts
    return {};
  }
  if (last_seen_)
    return invalid("upload: " + at(message) + " has index " + std::to_string(header->index) +
                   " after the last chunk");
  if (header->index > next_index_)
    return invalid("upload: chunk " + std::to_string(next_index_) + " is missing (" + at(message) +
                   " has index " + std::to_string(header->index) + ")");
  return take(message, header.value());
}

Status ChunkAssembler::take(const kafka::Message& message,
                            const schema::UploadChunkHeader& header) {
  if (bytes_ + message.value.size() > job_.size_bytes)
    return invalid("upload: chunk " + std::to_string(header.index) +
                   " runs past the job's size_bytes " + std::to_string(job_.size_bytes));
  sha_.update(std::string_view(message.value));
  if (reader_.state() == adapter::HeaderReader::State::need_more &&
      reader_.feed(message.value) == adapter::HeaderReader::State::failed)
    return reader_.error();
  bytes_ += message.value.size();
  ++next_index_;
  if (header.last) {
    last_seen_ = true;
    if (header.count && *header.count != next_index_)
      return invalid("upload: last chunk " + std::to_string(header.index) + " says count " +
                     std::to_string(*header.count));
  }
  return {};
}

Result<ReceivedUpload> ChunkAssembler::finish() {
  if (!last_seen_ || next_index_ != job_.chunk_count)
    return invalid("upload: received " + std::to_string(next_index_) + " of " +
                   std::to_string(job_.chunk_count) + " chunks" +
                   (last_seen_ ? "" : " and no last chunk"));
  if (bytes_ != job_.size_bytes)
    return invalid("upload: received " + std::to_string(bytes_) + " bytes, the job says " +
                   std::to_string(job_.size_bytes));
  ReceivedUpload out;
  out.size_bytes = bytes_;
  out.sha256 = sha_.finish_hex();
  if (out.sha256 != job_.sha256)
    return invalid("upload: sha256 of the received bytes is " + out.sha256 + ", the job says " +
                   job_.sha256);
  if (reader_.state() != adapter::HeaderReader::State::done)
    return invalid("safetensors file is truncated: it ends inside its header (" +
                   std::to_string(bytes_) + " bytes)");
  out.header = reader_.header();
  if (auto st = adapter::check_file_size(out.header, bytes_); !st) return st.error();
  return out;
}

Result<ReceivedUpload> read_upload(const kafka::Cluster& cluster, const schema::JobUpload& job,
                                   std::chrono::milliseconds idle_timeout) {
  ChunkAssembler assembler(job, adapter::kDefaultMaxHeaderBytes);
  std::optional<Error> rejected;  // the bytes' fault, as opposed to Kafka's
  auto st = kafka::read_range(
      cluster, kafka::kUploads, job.partition, job.first_offset, job.last_offset,
      [&](const kafka::Message& m) -> Status {
        auto accepted = assembler.accept(m);
        if (!accepted) rejected = accepted.error();
        return accepted;
      },
      idle_timeout);
  if (rejected) return *rejected;
  if (!st) return st.error();
  if (assembler.duplicates() > 0)
    spdlog::warn("validate: upload {} had {} repeated chunks (ignored)", job.upload_id,
                 assembler.duplicates());
  return assembler.finish();
}

}  // namespace loraplane::validate
