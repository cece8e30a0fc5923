// The one outbound HTTP/1.1 client of loraplane's internal calls (agent → engine, agent →
// storage node): plain http:// URLs, a fresh connection per request, awaitable, every step
// under a timeout, responses bounded in size. `download` streams a response body into a file
// while hashing it (sha256), so a blob of any size costs a fixed amount of memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/asio.hpp"
#include "common/result.hpp"

namespace loraplane::http {

// "http://host[:port][/target]"; https and userinfo are refused (internal calls only).
struct Url {
  std::string host;
  std::string port = "80";
  std::string target = "/";
};
Result<Url> parse_url(std::string_view url);

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  // Whole exchange for request(); per read/write step (idle bound) for download().
  std::chrono::milliseconds timeout{30000};
  std::size_t max_response_bytes =
      4 * 1024 * 1024;  // body of request(); error bodies of download()
};

struct ClientResponse {
  unsigned status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  // The first header of that (lower-case) name, or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

// One request. Errors: Errc::invalid_argument (bad URL), Errc::unavailable (resolve, connect,
// timeout, connection closed early), Errc::limit_exceeded (body above max_response_bytes). Any
// HTTP status is a successful result; the caller interprets it.
awaitable<Result<ClientResponse>> request(std::string method, std::string url,
                                          std::string body = {},
                                          std::string content_type = "application/json",
                                          ClientOptions options = {});

struct DownloadOptions {
  ClientOptions client;
  std::uint64_t max_bytes = 0;  // 0 = unbounded; more → Errc::limit_exceeded
  // false: the file is closed without fsync (in the page cache; the caller makes it durable
  // later or can re-create it), which saves the write-out from the download's latency.
  bool sync = true;
};

struct Download {
  unsigned status = 0;
  std::uint64_t bytes = 0;  // written to the file (200 only)
  std::string sha256;       // lowercase hex of the bytes written (200 only)
  std::string error_body;   // body of a non-200 answer (bounded), nothing written
};

// GET `url` into `path` (created or truncated, flushed and fsync'ed on success unless
// options.sync is false). A non-200 status is a successful result with nothing written; the
// file is removed on every failure.
awaitable<Result<Download>> download(std::string url, std::string path,
                                     DownloadOptions options = {});

}  // namespace loraplane::http
