#include "gateway/adapters/upload_session.hpp"

#include "gateway/errors.hpp"
#include "schema/adapter/validate.hpp"

namespace loraplane::gateway::adapters {

UploadSession::UploadSession(std::uint64_t max_file_bytes, int max_rank)
    : max_file_bytes_(max_file_bytes), max_rank_(max_rank) {
  chunk_.reserve(kUploadChunkBytes);
}

MultipartCallbacks UploadSession::callbacks() {
  return {[this](const MultipartPart& p) { return on_part_begin(p); },
          [this](std::string_view d) { return on_part_data(d); },
          [this] { return on_part_end(); }};
}

void UploadSession::set_error(http::Response response) {
  if (!error_) error_ = std::move(response);
}

Status UploadSession::fail(http::Response response) {
  set_error(std::move(response));
  return make_error(Errc::invalid_argument, "upload rejected");
}

Status UploadSession::on_part_begin(const MultipartPart& part) {
  if (part.name == kFileField) {
    if (file_seen_)
      return fail(errors::invalid_request("only one 'file' part is allowed", "file"));
    file_seen_ = in_file_ = true;
    if (!fields_checked_ && fields_.name && fields_.base_model && field_check_) {
      fields_checked_ = true;
      if (auto rejected = field_check_(fields_)) return fail(std::move(*rejected));
    }
    return {};
  }
  static constexpr std::string_view kFields[] = {"name", "base_model", "config", "lora_alpha"};
  bool known = false;
  for (auto f : kFields) known = known || part.name == f;
  if (!known)
    return fail(errors::invalid_request(
        "unknown form field '" + part.name.substr(0, 64) +
            "'; expected name, base_model, file, config, lora_alpha",
        part.name.substr(0, 64)));
  current_field_ = part.name;
  field_value_.clear();
  return {};
}

Status UploadSession::on_part_data(std::string_view data) {
  if (in_file_) return file_data(data);
  std::size_t limit = current_field_ == "config" ? kMaxConfigBytes : 1024;
  if (field_value_.size() + data.size() > limit)
    return fail(errors::invalid_request(
        "form field '" + current_field_ + "' is longer than " + std::to_string(limit) + " bytes",
        current_field_));
  field_value_.append(data);
  return {};
}

Status UploadSession::on_part_end() {
  if (in_file_) {
    in_file_ = false;
    return {};
  }
  auto& slot = current_field_ == "name"         ? fields_.name
               : current_field_ == "base_model" ? fields_.base_model
               : current_field_ == "config"     ? fields_.config
                                                : fields_.lora_alpha;
  if (slot)
    return fail(errors::invalid_request("form field '" + current_field_ + "' given twice",
                                        current_field_));
  slot = std::move(field_value_);
  field_value_.clear();
  return {};
}

Status UploadSession::file_data(std::string_view data) {
  file_bytes_ += data.size();
  if (file_bytes_ > max_file_bytes_) {
    return fail(http::error_response(
        http::Status::payload_too_large, "invalid_request_error", "adapter_too_large",
        "adapter file exceeds the limit of " + std::to_string(max_file_bytes_ / 1000000) +
            " MB for this tenant's tier",
        "file"));
  }
  sha_.update(data);
  if (header_.state() == adapter::HeaderReader::State::need_more) header_.feed(data);
  if (!header_checked_ && header_.state() != adapter::HeaderReader::State::need_more) {
    header_checked_ = true;
    if (header_.state() == adapter::HeaderReader::State::failed)
      return fail(http::error_response(http::Status::unprocessable_entity,
                                       "invalid_request_error", "invalid_adapter",
                                       "adapter_model.safetensors: " + header_.error().message,
                                       "file"));
    auto rank = adapter::quick_rank_check(header_.header(), max_rank_);
    if (!rank)
      return fail(http::error_response(http::Status::unprocessable_entity,
                                       "invalid_request_error", "invalid_adapter",
                                       rank.error().message, "file"));
  }
  while (!data.empty()) {
    std::size_t take = std::min(data.size(), kUploadChunkBytes - chunk_.size());
    chunk_.append(data.substr(0, take));
    data.remove_prefix(take);
    if (chunk_.size() == kUploadChunkBytes) {
      ready_.push_back(std::move(chunk_));
      chunk_ = std::string();
      chunk_.reserve(kUploadChunkBytes);
      ++chunks_cut_;
    }
  }
  return {};
}

void UploadSession::finish_file() {
  if (!chunk_.empty()) {
    ready_.push_back(std::move(chunk_));
    chunk_.clear();
    ++chunks_cut_;
  }
}

}  // namespace loraplane::gateway::adapters
