// A client of the Hugging Face Hub HTTP API, as huggingface_hub uses it: resolve a revision to
// its commit (GET /api/models/{repo}/revision/{rev}), then download files pinned to that commit
// (GET /{repo}/resolve/{commit}/{file}, following the Hub's redirects to its file store and
// dropping the token when the host changes), resuming with Range after a dropped connection.
// https endpoints verify the certificate and the host name. Blocking: it runs on the validate
// worker's job thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace loraplane::validate {

struct HubOptions {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT
  std::chrono::milliseconds timeout{30'000};         // connect, and each read or write
  int max_redirects = 5;
  int resume_attempts = 5;  // reconnects without progress before a download gives up
};

// The endpoint from $HF_ENDPOINT (trailing '/' stripped), else the public Hub.
HubOptions hub_options_from_env();

// Why a Hub call failed: `code` becomes the adapter's error code.
//   repo_not_found   404/401 RepoNotFound (a private repo without access looks the same)
//   repo_gated       gated repo without (approved) access
//   hub_auth_failed  the token was refused
//   revision_not_found, file_not_found
//   unsupported_format  only .bin weights, or no adapter_config.json
//   adapter_too_large   bigger than the limit
//   hub_unavailable  could not reach the Hub, or it kept failing (5xx, timeouts, resets)
struct HubError {
  std::string code;
  std::string message;
};

template <class T>
struct HubResult {
  std::optional<T> value;
  HubError error;
  explicit operator bool() const { return value.has_value(); }
  static HubResult fail(std::string code, std::string message) {
    return HubResult{std::nullopt, HubError{std::move(code), std::move(message)}};
  }
};

struct RepoRevision {
  std::string commit;              // 40 lowercase hex
  std::vector<std::string> files;  // siblings' rfilename
};

class HubClient {
 public:
  explicit HubClient(HubOptions options);

  HubResult<RepoRevision> resolve(std::string_view repo, std::string_view revision,
                                  const std::optional<std::string>& token) const;
  // A small file (adapter_config.json) in memory, at most max_bytes.
  HubResult<std::string> fetch(std::string_view repo, std::string_view commit,
                               std::string_view file, const std::optional<std::string>& token,
                               std::uint64_t max_bytes) const;
  // Streams a file to `sink` in pieces, in order, each byte once (resumed downloads continue
  // where they stopped). A sink error aborts with code "sink" and its message.
  using Sink = std::function<Status(std::string_view piece)>;
  HubResult<std::uint64_t> download(std::string_view repo, std::string_view commit,
                                    std::string_view file, const std::optional<std::string>& token,
                                    std::uint64_t max_bytes, const Sink& sink) const;

 private:
  HubOptions options_;
};

// Percent-encodes every byte outside [A-Za-z0-9._~-] (`keep_slash`: '/' too stays).
std::string url_quote(std::string_view text, bool keep_slash);

}  // namespace loraplane::validate
