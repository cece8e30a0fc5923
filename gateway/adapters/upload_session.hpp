// The per-request state of a streaming adapter upload: multipart fields, the file's running
// sha256 and safetensors header, and 1 MiB chunks cut from the file part for loraplane.uploads.
// Fed synchronously by the multipart parser; the upload coroutine drains ready chunks to Kafka.
// Memory: one chunk being filled plus the chunks waiting to be sent, whatever the file size.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "common/http.hpp"
#include "common/multipart.hpp"
#include "common/sha256.hpp"
#include "schema/adapter/safetensors.hpp"
#include "schema/types.hpp"

namespace loraplane::gateway::adapters {

inline constexpr std::size_t kUploadChunkBytes = 1024 * 1024;
inline constexpr std::size_t kMaxConfigBytes = 64 * 1024;
inline constexpr std::string_view kFileField = "file";  // the form part holding the weights

struct UploadFields {
  std::optional<std::string> name;
  std::optional<std::string> base_model;
  std::optional<std::string> config;
  std::optional<std::string> lora_alpha;
};

class UploadSession {
 public:
  UploadSession(std::uint64_t max_file_bytes, int max_rank);

  MultipartCallbacks callbacks();
  // Early checks on the form fields, run once they are known (before the file part when the
  // client sends fields first, else at the end). Sets the error response on failure.
  using FieldCheck = std::function<std::optional<http::Response>(const UploadFields&)>;
  void set_field_check(FieldCheck check) { field_check_ = std::move(check); }

  // Chunks cut from the file and not yet handed to Kafka, oldest first.
  std::deque<std::string>& ready_chunks() { return ready_; }
  // At the end of the body: moves the last partial chunk to ready_chunks().
  void finish_file();

  const std::optional<http::Response>& error() const { return error_; }
  void set_error(http::Response response);
  const UploadFields& fields() const { return fields_; }
  bool file_seen() const { return file_seen_; }
  bool fields_checked() const { return fields_checked_; }
  void mark_fields_checked() { fields_checked_ = true; }
  std::uint64_t file_bytes() const { return file_bytes_; }
  std::string sha256_hex() { return sha_.finish_hex(); }
  const adapter::HeaderReader& header() const { return header_; }
  std::uint32_t chunks_cut() const { return chunks_cut_; }

 private:
  Status on_part_begin(const MultipartPart& part);
  Status on_part_data(std::string_view data);
  Status on_part_end();
  Status file_data(std::string_view data);
  Status fail(http::Response response);

  std::uint64_t max_file_bytes_;
  int max_rank_;
  FieldCheck field_check_;
  bool fields_checked_ = false;
  UploadFields fields_;
  std::string current_field_;
  std::string field_value_;
  bool in_file_ = false;
  bool file_seen_ = false;
  std::uint64_t file_bytes_ = 0;
  Sha256 sha_;
  adapter::HeaderReader header_;
  bool header_checked_ = false;
  std::string chunk_;
  std::uint32_t chunks_cut_ = 0;
  std::deque<std::string> ready_;
  std::optional<http::Response> error_;
};

}  // namespace loraplane::gateway::adapters
