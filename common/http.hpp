// HTTP/1.1 server seam shared by every role (gateway, agent, storage node, engine simulator):
// a router of `METHOD /path/{param}` patterns to coroutine handlers, bounded reads, per-route
// metrics, and the JSON error shape. Beast types appear here so handlers can build responses.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.hpp"

namespace loraplane::http {

namespace beast = boost::beast;
using Verb = beast::http::verb;
using Status = beast::http::status;
using Request = beast::http::request<beast::http::string_body>;
using Response = beast::http::response<beast::http::string_body>;
using HeaderParser = beast::http::request_parser<beast::http::empty_body>;

// Lets a buffered handler write its response itself, e.g. Server-Sent Events relayed as they
// arrive, instead of returning it. The request body has been read whole, so the connection can
// serve the next request once the handler has written one complete message.
struct ResponseChannel {
  beast::tcp_stream& stream;
  beast::flat_buffer& buffer;  // bytes the client sent past this request (pipelining) go here
  bool keep_alive = false;     // what the request asked for and the server allows
  // Set by the handler once it has written anything: the Response it returns is then not sent
  // (only its status is counted, from `status`).
  bool written = false;
  // Set by the handler when what it wrote is one complete message that allows keep-alive; else
  // the connection closes after the handler returns.
  bool reusable = false;
  unsigned status = 0;
};

struct RequestContext {
  const Request& request;
  std::vector<std::pair<std::string, std::string>> params;  // from {name} segments
  std::string request_id;
  ResponseChannel* channel = nullptr;  // set for every buffered handler the Server runs
  std::string_view param(std::string_view name) const;
  // Query parameter, percent-decoded; nullopt when absent.
  std::optional<std::string> query(std::string_view name) const;
  std::string_view path() const;  // target without the query string
};

using Handler = std::function<awaitable<Response>(RequestContext&)>;

// A handler that takes over the connection after the header was read, for bodies that must be
// streamed rather than buffered (uploads). It reads the body from `stream` via `parser` and
// returns the response to send.
struct StreamContext {
  beast::tcp_stream& stream;
  beast::flat_buffer& buffer;
  HeaderParser& parser;
  std::vector<std::pair<std::string, std::string>> params;
  std::string request_id;
};
using StreamHandler = std::function<awaitable<Response>(StreamContext&)>;

class Router {
 public:
  // pattern: "/v1/adapters/{id}"; a segment "{name}" matches one non-empty path segment.
  void add(Verb method, std::string pattern, Handler handler);
  void add_stream(Verb method, std::string pattern, StreamHandler handler);

  struct Match {
    const Handler* handler = nullptr;
    const StreamHandler* stream_handler = nullptr;
    const std::string* pattern = nullptr;  // route label for metrics
    std::vector<std::pair<std::string, std::string>> params;
    bool method_not_allowed = false;
  };
  Match match(Verb method, std::string_view path) const;

 private:
  struct Route {
    Verb method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    StreamHandler stream_handler;
  };
  std::vector<Route> routes_;
};

struct ServerOptions {
  std::string role = "gateway";  // metrics label and the role of its log lines
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0 = any free port
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_connections = 4096;
  std::chrono::seconds header_timeout{30};
  std::chrono::seconds body_timeout{60};
  std::chrono::seconds idle_timeout{75};
  // One access line per request (method, route, status, duration, request id) at info; at
  // debug when false (internal listeners that serve many small requests).
  bool access_log = false;
  // Who is asking, for the access line (the gateway: the tenant id behind the API key); called
  // with the request header before the handler runs. Must never return a credential.
  std::function<std::string(const beast::http::request_header<>&)> access_subject;
  // Asked before a matched route's handler runs, with the path: a response to send instead
  // (the request's body is not read), e.g. while a role cannot serve yet. Unset: never.
  std::function<std::optional<Response>(std::string_view path)> refuse;
  // Asked before `100 Continue` goes to a client that holds its body back for it (`Expect:
  // 100-continue`) on a buffered route: a response to send instead, without reading the body
  // (e.g. a wrong API key, so a refused client does not upload its body first). Unset: never.
  std::function<std::optional<Response>(const beast::http::request_header<>&)> before_continue;
};

class Server {
 public:
  Server(asio::io_context& io, ServerOptions options, Router router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Binds and starts accepting; throws on bind failure (startup error).
  void start();
  std::uint16_t port() const;
  // Stops accepting and closes idle connections; in-flight requests finish, and their
  // connections close after the answer. Thread-safe.
  void stop();
  // Connections open now, in-flight requests included (0 once a stop has drained).
  std::size_t open_connections() const;

  struct State;  // implementation detail, public only so the session coroutines can name it

 private:
  std::shared_ptr<State> state_;
};

// Response helpers. Every response carries Content-Length and the request's keep-alive.
Response json_response(Status status, std::string body);
Response text_response(Status status, std::string body, std::string_view content_type = "text/plain");
// OpenAI error shape {"error":{"message","type","param","code"}}.
Response error_response(Status status, std::string_view type, std::optional<std::string_view> code,
                        std::string_view message, std::optional<std::string_view> param = std::nullopt);
// `plus_is_space`: form/query encoding, where '+' stands for a space.
std::string percent_decode(std::string_view in, bool plus_is_space = false);
using RequestHeader = beast::http::request_header<>;  // of any request, whatever its body
std::string_view bearer_token(const RequestHeader& request);

}  // namespace loraplane::http
