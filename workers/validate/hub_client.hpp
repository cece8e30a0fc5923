// A client of the Hugging Face Hub HTTP API, as huggingface_hub uses it: resolve a revision to
// its commit (GET /api/models/{repo}/revision/{rev}), then download files pinned to that commit
// (GET /{repo}/resolve/{commit}/{file}, following the Hub's redirects to its file store and
// dropping the token when the host changes), resuming with Range after a dropped connection.
// https endpoints verify the certificate and the host name. Blocking: it runs on the validate
// worker's job thread.
#pragma once

#include <atomic>
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
  // Connect, and each read or write: a Hub that goes silent this long counts as a failed
  // attempt (the download resumes where it stopped).
  std::chrono::milliseconds timeout{30'000};
  int max_redirects = 5;
  // Attempts without progress (a network failure, a timeout, 429 or 5xx) before a call gives
  // up with hub_unavailable. Between them it waits retry_backoff, doubling each time, or what
  // the Hub's Retry-After asks; at most max_backoff either way.
  int resume_attempts = 5;
  std::chrono::milliseconds retry_backoff{1'000};
  std::chrono::milliseconds max_backoff{30'000};
  // When set and true, a wait between attempts ends at once and the call fails with code
  // "stopping" (the job runs again later).
  const std::atomic<bool>* stop = nullptr;
};

// The endpoint from $HF_ENDPOINT (trailing '/' stripped), else the public Hub;
// $LORAPLANE_HUB_TIMEOUT_MS and $LORAPLANE_HUB_RETRY_MS override timeout and retry_backoff.
HubOptions hub_options_from_env();

// Why a Hub call failed: `code` becomes the adapter's error code.
//   repo_not_found   404/401 RepoNotFound (a private repo without access looks the same)
//   repo_gated       gated repo without (approved) access
//   hub_auth_failed  the token was refused
//   revision_not_found, file_not_found
//   unsupported_format  only .bin weights, or no adapter_config.json
//   adapter_too_large   bigger than the limit
//   checksum_mismatch   (set by the caller) the bytes differ from the Hub's sha256
//   hub_unavailable  could not reach the Hub, or it kept failing (5xx, 429, timeouts, resets)
//   stopping         the worker stops (HubOptions::stop): not the adapter's fault
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

struct Downloaded {
  std::uint64_t bytes = 0;
  // The file's sha256 as the Hub lists it (X-Linked-Etag of an LFS file); empty when the Hub
  // named none (a small file kept in git has its blob's sha1 there).
  std::string sha256;
};

// The sha256 an ETag or X-Linked-Etag carries (W/ and quotes removed), else empty.
std::string sha256_from_etag(std::string_view etag);

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
  // where they stopped). A sink error aborts with code "sink" and its message. The caller
  // compares its own hash with Downloaded::sha256.
  using Sink = std::function<Status(std::string_view piece)>;
  HubResult<Downloaded> download(std::string_view repo, std::string_view commit,
                                    std::string_view file, const std::optional<std::string>& token,
                                    std::uint64_t max_bytes, const Sink& sink) const;

 private:
  // Waits before the next attempt after `failures` in a row (1, 2, ...), or what the Hub's
  // Retry-After header (`retry_after`, seconds; may be empty) asks. False when stopping.
  bool back_off(int failures, const std::string& retry_after) const;

  HubOptions options_;
};

// Percent-encodes every byte outside [A-Za-z0-9._~-] (`keep_slash`: '/' too stays).
std::string url_quote(std::string_view text, bool keep_slash);

}  // namespace loraplane::validate
