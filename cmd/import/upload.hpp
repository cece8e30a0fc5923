// A multipart upload of one adapter file to POST /v1/adapters/upload, streamed from disk in
// 1 MiB pieces (memory does not grow with the file), with its sha256 computed on the way.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "cmd/import/manifest.hpp"
#include "common/http_call.hpp"
#include "common/result.hpp"

namespace loraplane::cmd::import {

struct UploadAnswer {
  int status = 0;
  std::string body;
  std::string retry_after;  // from a 429/503
};

// `sent` grows as bytes of the file go out (progress display). Errc::unavailable when the
// gateway cannot be reached or the exchange broke; Errc::invalid_argument for an unreadable file.
Result<UploadAnswer> upload_file(const http::Endpoint& api, const std::string& key,
                                 const Entry& entry, std::atomic<std::uint64_t>& sent);

// sha256 of a file, streamed.
Result<std::string> file_sha256(const std::string& path);

}  // namespace loraplane::cmd::import
