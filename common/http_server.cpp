// The coroutine HTTP/1.1 server of common/http.hpp: accept loop, keep-alive sessions with
// header/body limits and timeouts, dispatch to buffered or streaming handlers, metrics.
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <set>
#include <unordered_map>

#include "common/http.hpp"
#include "common/http_malformed.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "common/sha256.hpp"

namespace loraplane::http {

// nginx answers these 400 too, rather than closing in silence.
bool malformed_request(const boost::system::error_code& ec) {
  namespace herr = beast::http;
  if (ec.category() != herr::make_error_code(herr::error::bad_method).category()) return false;
  switch (static_cast<herr::error>(ec.value())) {
    case herr::error::end_of_stream:
    case herr::error::partial_message:
    case herr::error::need_more:
    case herr::error::need_buffer:
    case herr::error::short_read:
    case herr::error::stale_parser:
    case herr::error::bad_alloc:
    case herr::error::header_limit:
    case herr::error::body_limit:
      return false;
    default:
      return true;
  }
}

Response malformed_response(const boost::system::error_code& ec) {
  auto res = error_response(Status::bad_request, "invalid_request_error", "malformed_request",
                            "malformed HTTP request: " + ec.message());
  res.keep_alive(false);
  return res;
}

namespace {

struct HttpMetrics {
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("loraplane_http_requests_total")
          .Help("HTTP requests served, by role, route pattern, method and status code")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Histogram>& duration =
      prometheus::BuildHistogram()
          .Name("loraplane_http_request_duration_seconds")
          .Help("Time from the end of the request header to the end of the response write")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Gauge>& connections =
      prometheus::BuildGauge()
          .Name("loraplane_http_open_connections")
          .Help("Open HTTP connections by role")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Counter>& rejected =
      prometheus::BuildCounter()
          .Name("loraplane_http_rejected_connections_total")
          .Help("Connections closed at once because max_connections was reached")
          .Register(metrics::registry());
};

HttpMetrics& http_metrics() {
  static HttpMetrics m;
  return m;
}

const prometheus::Histogram::BucketBoundaries kLatencyBuckets{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,   0.5,     1,      2.5,   5,      10,    30,   60};

}  // namespace

struct Server::State : std::enable_shared_from_this<Server::State> {
  asio::io_context& io;
  ServerOptions options;
  Router router;
  tcp::acceptor acceptor;
  std::atomic<std::size_t> open{0};
  std::atomic<bool> stopping{false};
  // Connections waiting for their next request: stop() closes them so a drain need not wait
  // out their idle timeout. Touched only on the io_context's threads, under the mutex.
  std::mutex idle_mutex;
  std::set<beast::tcp_stream*> idle;
  prometheus::Gauge* open_gauge;
  prometheus::Counter* rejected;

  State(asio::io_context& io_, ServerOptions opts, Router r)
      : io(io_), options(std::move(opts)), router(std::move(r)), acceptor(io_),
        open_gauge(&http_metrics().connections.Add({{"role", options.role}})),
        rejected(&http_metrics().rejected.Add({{"role", options.role}})) {}

  // The counter and histogram of each (route, method, code) seen, found once: a Family's Add
  // builds and hashes a label map, too dear for every request. Bounded by the routes × methods
  // × status codes the server answers with.
  struct RouteMetrics {
    prometheus::Counter* requests;
    prometheus::Histogram* duration;
  };
  std::mutex metrics_mutex;
  std::unordered_map<std::string, RouteMetrics> route_metrics;

  RouteMetrics& metrics_for(std::string_view route, std::string_view method, unsigned code) {
    std::string key;
    key.reserve(route.size() + method.size() + 6);
    key.append(route).append(1, ' ').append(method).append(1, ' ').append(std::to_string(code));
    std::lock_guard lock(metrics_mutex);
    auto found = route_metrics.find(key);
    if (found != route_metrics.end()) return found->second;
    auto& m = http_metrics();
    RouteMetrics handles{
        &m.requests.Add({{"role", options.role},
                         {"route", std::string(route)},
                         {"method", std::string(method)},
                         {"code", std::to_string(code)}}),
        &m.duration.Add({{"role", options.role}, {"route", std::string(route)}},
                        kLatencyBuckets)};
    return route_metrics.emplace(std::move(key), handles).first->second;
  }

  // Metrics and the access line of one finished request.
  void observe(std::string_view route, Verb method, unsigned code, double seconds,
               const std::string& request_id, const std::string& subject) {
    const auto level = options.access_log ? spdlog::level::info : spdlog::level::debug;
    const std::string_view verb(beast::http::to_string(method));
    logging::write(level, {options.role, request_id}, "{} {} {} {:.1f} ms{}{}", verb, route, code,
                   seconds * 1000, subject.empty() ? "" : " tenant=", subject);
    auto& handles = metrics_for(route, verb, code);
    handles.requests->Increment();
    handles.duration->Observe(seconds);
  }
};

namespace {

using Clock = std::chrono::steady_clock;

// A client's x-request-id is kept when it is 1-64 visible ASCII characters (it ends up in log
// lines and Kafka headers); otherwise the server makes one.
bool usable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (c < '!' || c > '~') return false;
  return true;
}

Response dispatch_error(Status status, std::string_view message, std::string_view code) {
  return error_response(status, "invalid_request_error", code, message);
}

awaitable<std::optional<Response>> run_buffered(Server::State& st, beast::tcp_stream& stream,
                                                beast::flat_buffer& buffer, HeaderParser& header,
                                                const Handler& handler,
                                                std::vector<std::pair<std::string, std::string>> params,
                                                const std::string& request_id,
                                                bool& body_read, ResponseChannel& channel) {
  body_read = false;
  auto length = header.content_length();
  auto too_large = [&st] {
    return dispatch_error(Status::payload_too_large,
                          "request body larger than this server's limit of " +
                              std::to_string(st.options.max_body_bytes) + " bytes",
                          "body_too_large");
  };
  if (length && *length > st.options.max_body_bytes) co_return too_large();
  beast::http::request_parser<beast::http::string_body> parser(std::move(header));
  parser.body_limit(st.options.max_body_bytes);
  stream.expires_after(st.options.body_timeout);
  // A client that sent `Expect: 100-continue` (curl does for bodies over 1 MiB) holds the body
  // back until this interim answer, or for its own timeout (curl's is 1 s) without it.
  const auto& head = parser.get();
  if (!parser.is_done() && head.version() >= 11 &&
      beast::iequals(head[beast::http::field::expect], "100-continue")) {
    if (st.options.before_continue)
      if (auto refused = st.options.before_continue(head)) co_return std::move(refused);
    beast::http::response<beast::http::empty_body> cont{beast::http::status::continue_, 11};
    auto [cec, cn] = co_await beast::http::async_write(stream, cont, use_nothrow_awaitable);
    (void)cn;
    if (cec) co_return std::nullopt;
  }
  auto [ec, n] = co_await beast::http::async_read(stream, buffer, parser, use_nothrow_awaitable);
  (void)n;
  if (ec == beast::http::error::body_limit) co_return too_large();
  if (malformed_request(ec)) co_return malformed_response(ec);  // a bad chunk in the body
  if (ec) co_return std::nullopt;  // client gone or timed out: nothing to answer
  body_read = true;
  channel.keep_alive = channel.keep_alive && parser.keep_alive();
  RequestContext ctx{parser.get(), std::move(params), request_id, &channel};
  co_return co_await handler(ctx);
}

// Closes after an early answer (413, 431, ...) without resetting the connection: a close with
// unread request bytes sends RST, and the client may lose the answer it has not read yet. So
// stop sending, then read and discard for a bounded time and amount.
awaitable<void> linger_close(beast::tcp_stream& stream, beast::flat_buffer& buffer) {
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(std::chrono::seconds(2));
  std::size_t drained = 0;
  while (!ec && drained < (8u << 20)) {
    buffer.consume(buffer.size());
    auto [read_ec, n] = co_await stream.async_read_some(buffer.prepare(64 * 1024),
                                                        use_nothrow_awaitable);
    ec = read_ec;
    drained += n;
  }
  stream.socket().close(ec);
}

awaitable<void> session(std::shared_ptr<Server::State> st, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;  // bounded by the parser's header and body limits
  for (;;) {
    HeaderParser header;
    header.header_limit(static_cast<std::uint32_t>(st->options.max_header_bytes));
    header.body_limit(boost::none);  // buffered routes check the length; streaming ones bound themselves
    if (buffer.size() == 0) {
      // Between requests: wait up to the idle timeout for the first bytes of the next one. The
      // header itself then has header_timeout, so a client trickling a header (slowloris) is
      // cut after header_timeout, not after the longer keep-alive idle timeout.
      {
        std::lock_guard lock(st->idle_mutex);
        if (st->stopping) break;
        st->idle.insert(&stream);
      }
      stream.expires_after(st->options.idle_timeout);
      auto [first_ec, first_n] =
          co_await stream.async_read_some(buffer.prepare(16 * 1024), use_nothrow_awaitable);
      {
        std::lock_guard lock(st->idle_mutex);
        st->idle.erase(&stream);
      }
      if (first_ec) break;  // closed, idle too long, or cancelled by stop()
      buffer.commit(first_n);
    }
    stream.expires_after(st->options.header_timeout);
    auto [ec, n] = co_await beast::http::async_read_header(stream, buffer, header, use_nothrow_awaitable);
    (void)n;
    if (ec == beast::http::error::header_limit || ec == beast::http::error::body_limit ||
        malformed_request(ec)) {
      // Answer, then close: the rest of this request is not read.
      auto res = ec == beast::http::error::header_limit
                     ? dispatch_error(Status::request_header_fields_too_large,
                                      "request header too large", "header_too_large")
                 : ec == beast::http::error::body_limit
                     ? dispatch_error(Status::payload_too_large, "request body too large",
                                      "body_too_large")
                     : malformed_response(ec);
      res.keep_alive(false);
      stream.expires_after(std::chrono::seconds(5));
      auto [wec, wn] = co_await beast::http::async_write(stream, res, use_nothrow_awaitable);
      (void)wn;
      if (!wec) co_await linger_close(stream, buffer);
      co_return;
    }
    if (ec) break;  // closed or timed out: no one to answer
    auto start = Clock::now();
    const auto& req = header.get();
    auto rid_it = req.find("x-request-id");
    std::string request_id = rid_it != req.end() && usable_request_id(rid_it->value())
                                 ? std::string(rid_it->value())
                                 : random_base62(16);
    std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));
    auto match = st->router.match(req.method(), path);
    bool keep_alive = req.keep_alive() && !st->stopping;
    Verb method = req.method();
    std::string route = match.pattern ? *match.pattern : std::string("unmatched");
    const bool access_logged =
        spdlog::should_log(st->options.access_log ? spdlog::level::info : spdlog::level::debug);
    const std::string subject = access_logged && st->options.access_subject
                                    ? st->options.access_subject(req)
                                    : std::string();
    std::optional<Response> res;
    ResponseChannel channel{stream, buffer, keep_alive};
    const bool routed = match.stream_handler || match.handler;
    if (routed && st->options.refuse) res = st->options.refuse(path);
    try {
      if (res) {
        keep_alive = keep_alive && header.is_done();  // an unread body ends the connection
      } else if (match.stream_handler) {
        StreamContext ctx{stream, buffer, header, std::move(match.params), request_id};
        res = co_await (*match.stream_handler)(ctx);
        keep_alive = false;  // the handler may have answered before reading the whole body
      } else if (match.handler) {
        bool body_read = false;
        res = co_await run_buffered(*st, stream, buffer, header, *match.handler,
                                    std::move(match.params), request_id, body_read, channel);
        keep_alive = keep_alive && body_read;
      } else if (match.method_not_allowed) {
        res = dispatch_error(Status::method_not_allowed, "method not allowed for this path",
                             "method_not_allowed");
        keep_alive = false;
      } else {
        res = error_response(Status::not_found, "invalid_request_error", "not_found",
                             "no such endpoint: " + std::string(path));
        keep_alive = keep_alive && header.is_done();
      }
    } catch (const std::exception& e) {
      logging::error({st->options.role, request_id}, "{} {} {} failed: {}", st->options.role,
                     std::string(beast::http::to_string(method)), route, e.what());
      res = error_response(Status::internal_server_error, "server_error", "internal_error",
                           "internal error; request id " + request_id);
      keep_alive = false;
    }
    if (channel.written) {
      // The handler wrote its own response; a failure inside it must not append another.
      st->observe(route, method, channel.status ? channel.status : (res ? res->result_int() : 0),
                  std::chrono::duration<double>(Clock::now() - start).count(), request_id,
                  subject);
      if (!(keep_alive && channel.reusable)) break;
      continue;
    }
    if (!res) break;
    res->set("x-request-id", request_id);
    res->keep_alive(keep_alive);
    stream.expires_after(st->options.body_timeout);
    auto [wec, wn] = co_await beast::http::async_write(stream, *res, use_nothrow_awaitable);
    (void)wn;
    st->observe(route, method, res->result_int(),
                std::chrono::duration<double>(Clock::now() - start).count(), request_id, subject);
    if (wec) break;
    if (!keep_alive) {
      co_await linger_close(stream, buffer);
      co_return;
    }
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

awaitable<void> accept_loop(std::shared_ptr<Server::State> st) {
  // After a failed accept (out of file descriptors: the connection stays queued and the next
  // accept fails at once) the loop pauses instead of spinning on a core, and says so at most
  // every 10 s.
  constexpr auto kAcceptPause = std::chrono::milliseconds(100);
  constexpr auto kLogEvery = std::chrono::seconds(10);
  auto logged = Clock::now() - kLogEvery;
  std::size_t unlogged = 0;
  for (;;) {
    auto [ec, socket] = co_await st->acceptor.async_accept(use_nothrow_awaitable);
    if (ec) {
      if (st->stopping || ec == asio::error::operation_aborted) co_return;
      if (Clock::now() - logged >= kLogEvery) {
        spdlog::warn("{}: accept failed: {} ({} more since the last line); pausing accepts for "
                     "{} ms each time",
                     st->options.role, ec.message(), unlogged, kAcceptPause.count());
        logged = Clock::now();
        unlogged = 0;
      } else {
        ++unlogged;
      }
      asio::steady_timer pause(st->io, kAcceptPause);
      auto [pause_ec] = co_await pause.async_wait(use_nothrow_awaitable);
      (void)pause_ec;
      continue;
    }
    if (st->open.load() >= st->options.max_connections) {
      st->rejected->Increment();
      continue;  // socket closes as it goes out of scope
    }
    boost::system::error_code nodelay_ec;
    socket.set_option(tcp::no_delay(true), nodelay_ec);
    ++st->open;
    st->open_gauge->Increment();
    asio::co_spawn(st->io, session(st, std::move(socket)), [st](std::exception_ptr ep) {
      --st->open;
      st->open_gauge->Decrement();
      LogExceptions{"http session"}(ep);
    });
  }
}

}  // namespace

Server::Server(asio::io_context& io, ServerOptions options, Router router)
    : state_(std::make_shared<State>(io, std::move(options), std::move(router))) {}

Server::~Server() { stop(); }

void Server::start() {
  auto& st = *state_;
  tcp::endpoint endpoint(asio::ip::make_address(st.options.host), st.options.port);
  st.acceptor.open(endpoint.protocol());
  st.acceptor.set_option(tcp::acceptor::reuse_address(true));
  st.acceptor.bind(endpoint);
  st.acceptor.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(st.io, accept_loop(state_), LogExceptions{"http accept loop"});
}

std::uint16_t Server::port() const {
  boost::system::error_code ec;
  auto ep = state_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void Server::stop() {
  if (state_->stopping.exchange(true)) return;
  asio::post(state_->io, [st = state_] {
    boost::system::error_code ec;
    st->acceptor.close(ec);
    std::lock_guard lock(st->idle_mutex);
    for (auto* stream : st->idle) stream->socket().cancel(ec);
  });
}

std::size_t Server::open_connections() const { return state_->open.load(); }

}  // namespace loraplane::http
