// The gateway's HTTP/1.1 client to engines and agents: keep-alive connections pooled per
// host:port (bounded idle count and idle age), one exchange per UpstreamCall, bodies read whole
// (bounded) or piece by piece as they arrive (SSE relay). A call on a reused connection that the
// peer had already closed is sent again once on a fresh connection, before any answer was read.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.hpp"
#include "common/http.hpp"
#include "common/result.hpp"

namespace loraplane::gateway::inference {

struct UpstreamUrl {
  std::string host;
  std::string port;
  std::string path;  // prefix for request targets, without a trailing '/'; usually empty
  std::string key() const { return host + ":" + port; }
};
// "http://host:port[/prefix]"; Errc::invalid_argument otherwise (https is not spoken here).
Result<UpstreamUrl> parse_upstream_url(std::string_view url);

struct UpstreamOptions {
  std::chrono::milliseconds connect_timeout{3000};
  // Per read or write. A non-streamed answer comes only once the whole generation is done.
  std::chrono::seconds io_timeout{600};
  // An agent's ensure, answer included: beyond it the engine counts as unable to load the
  // adapter now and the request goes to another engine, or gets 503 with Retry-After. A slot
  // or disk wait (30 s each), a download and a normal load fit within it; a load that hangs
  // (the agent gives its engine 120 s) does not, nor does an agent that stopped answering.
  std::chrono::seconds ensure_timeout{90};
  std::size_t max_idle_per_host = 64;
  std::chrono::seconds idle_ttl{30};
};

struct UpstreamConnection {
  explicit UpstreamConnection(asio::any_io_executor ex) : stream(ex) {}
  http::beast::tcp_stream stream;
  http::beast::flat_buffer buffer;
  std::string key;
  std::chrono::steady_clock::time_point idle_since{};
};

class UpstreamPool {
 public:
  explicit UpstreamPool(UpstreamOptions options = {});
  const UpstreamOptions& options() const;

  // An idle connection to `url` if one is fresh enough (reused = true) and fresh_only is false,
  // else a new one. Errc::unavailable when the connection cannot be made.
  awaitable<Result<std::unique_ptr<UpstreamConnection>>> acquire(const UpstreamUrl& url,
                                                                 bool fresh_only, bool& reused);
  std::size_t idle_count() const;

  struct State;

 private:
  friend class UpstreamCall;
  std::shared_ptr<State> state_;  // calls hold it weakly: a late call outliving the pool closes
};

// One request/response exchange. Destroying it returns the connection to the pool when the
// response was read to its end and both sides allow keep-alive; otherwise it is closed.
class UpstreamCall {
 public:
  struct Request {
    http::Verb method = http::Verb::post;
    std::string target;  // path and query
    std::string body;
    std::string content_type = "application/json";
    std::string request_id;
    std::string accept;  // empty: none
    // When the whole exchange must be over, the answer's body read too. Unset: each read and
    // write gets the pool's io_timeout, with no bound on the whole.
    std::optional<std::chrono::steady_clock::time_point> deadline;
  };

  // Sends the request and reads the response header. Errc::unavailable when the peer cannot be
  // reached or dropped the connection before answering (the request may be retried elsewhere);
  // Errc::io for a timeout or a malformed answer.
  static awaitable<Result<std::unique_ptr<UpstreamCall>>> start(UpstreamPool& pool,
                                                                const UpstreamUrl& url,
                                                                Request request);
  ~UpstreamCall();
  UpstreamCall(const UpstreamCall&) = delete;
  UpstreamCall& operator=(const UpstreamCall&) = delete;

  unsigned status() const;
  std::string_view header(http::beast::http::field field) const;
  bool done() const;

  // The rest of the body, at most `limit` bytes (Errc::limit_exceeded beyond).
  awaitable<Result<std::string>> read_all(std::size_t limit);
  // The next bytes of the body as they arrive; empty once the body is complete.
  awaitable<Result<std::string>> read_some();
  // Closes the connection at once: a pending read or write fails (the client went away).
  void cancel();

 private:
  UpstreamCall(UpstreamPool& pool, std::unique_ptr<UpstreamConnection> connection);
  awaitable<Status> exchange(const http::beast::http::request<http::beast::http::string_body>& r);
  // Arms the connection's timer for the next read or write: io_timeout, or the deadline if
  // sooner.
  void arm();

  std::weak_ptr<UpstreamPool::State> pool_;
  std::unique_ptr<UpstreamConnection> connection_;
  http::beast::http::response_parser<http::beast::http::buffer_body> parser_;
  bool failed_ = false;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
};

}  // namespace loraplane::gateway::inference
