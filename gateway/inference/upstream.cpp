#include "gateway/inference/upstream.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace loraplane::gateway::inference {

namespace beast = http::beast;
namespace bhttp = beast::http;
using Clock = std::chrono::steady_clock;

struct UpstreamPool::State {
  UpstreamOptions options;
  std::map<std::string, std::vector<std::unique_ptr<UpstreamConnection>>> idle;

  void release(std::unique_ptr<UpstreamConnection> c) {
    auto& list = idle[c->key];
    if (list.size() >= options.max_idle_per_host) return;  // closes as it goes
    c->idle_since = Clock::now();
    list.push_back(std::move(c));
  }
};

Result<UpstreamUrl> parse_upstream_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme))
    return make_error(Errc::invalid_argument,
                      "upstream url must start with http://: " + std::string(url));
  url.remove_prefix(kScheme.size());
  auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  UpstreamUrl out;
  if (slash != std::string_view::npos) {
    out.path = std::string(url.substr(slash));
    while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  }
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == authority.size() || colon == 0)
    return make_error(Errc::invalid_argument, "upstream url needs host:port");
  out.host = std::string(authority.substr(0, colon));
  out.port = std::string(authority.substr(colon + 1));
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  return out;
}

UpstreamPool::UpstreamPool(UpstreamOptions options) : state_(std::make_shared<State>()) {
  state_->options = options;
}

const UpstreamOptions& UpstreamPool::options() const { return state_->options; }

std::size_t UpstreamPool::idle_count() const {
  std::size_t n = 0;
  for (const auto& [key, list] : state_->idle) n += list.size();
  return n;
}

namespace {

// An idle keep-alive connection the peer has closed (or sent junk on) is not worth reusing.
bool still_open(UpstreamConnection& c) {
  if (!c.stream.socket().is_open()) return false;
  char byte;
  auto n = ::recv(c.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

awaitable<Result<std::unique_ptr<UpstreamConnection>>> UpstreamPool::acquire(const UpstreamUrl& url,
                                                                             bool fresh_only,
                                                                             bool& reused) {
  reused = false;
  auto key = url.key();
  auto& st = *state_;
  if (!fresh_only) {
    auto found = st.idle.find(key);
    while (found != st.idle.end() && !found->second.empty()) {
      auto c = std::move(found->second.back());
      found->second.pop_back();
      if (Clock::now() - c->idle_since < st.options.idle_ttl && still_open(*c)) {
        reused = true;
        co_return c;
      }
    }
  }
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(url.host, url.port, use_nothrow_awaitable);
  if (rec) co_return make_error(Errc::unavailable, "cannot resolve " + key + ": " + rec.message());
  auto c = std::make_unique<UpstreamConnection>(ex);
  c->key = key;
  c->stream.expires_after(st.options.connect_timeout);
  auto [cec, endpoint] = co_await c->stream.async_connect(endpoints, use_nothrow_awaitable);
  (void)endpoint;
  if (cec)
    co_return make_error(Errc::unavailable, "cannot connect to " + key + ": " + cec.message());
  boost::system::error_code ignored;
  c->stream.socket().set_option(tcp::no_delay(true), ignored);
  co_return c;
}

UpstreamCall::UpstreamCall(UpstreamPool& pool, std::unique_ptr<UpstreamConnection> connection)
    : pool_(pool.state_), connection_(std::move(connection)) {
  parser_.body_limit(boost::none);  // callers bound what they read
}

UpstreamCall::~UpstreamCall() {
  if (!connection_) return;
  auto pool = pool_.lock();
  if (pool && !failed_ && parser_.is_done() && parser_.keep_alive()) {
    pool->release(std::move(connection_));
    return;
  }
  boost::system::error_code ignored;
  connection_->stream.socket().close(ignored);
}

void UpstreamCall::arm() {
  auto pool = pool_.lock();
  const auto per_io = std::chrono::steady_clock::now() +
                      (pool ? pool->options.io_timeout : std::chrono::seconds(60));
  connection_->stream.expires_at(deadline_ && *deadline_ < per_io ? *deadline_ : per_io);
}

awaitable<Status> UpstreamCall::exchange(const bhttp::request<bhttp::string_body>& r) {
  auto& c = *connection_;
  arm();
  auto [wec, wn] = co_await bhttp::async_write(c.stream, r, use_nothrow_awaitable);
  (void)wn;
  if (wec) {
    failed_ = true;
    co_return make_error(Errc::unavailable, "sending to " + c.key + ": " + wec.message());
  }
  arm();
  auto [rec, rn] =
      co_await bhttp::async_read_header(c.stream, c.buffer, parser_, use_nothrow_awaitable);
  (void)rn;
  if (rec) {
    failed_ = true;
    // Dropped before any answer: the engine died or closed an idle connection; retryable.
    bool dropped = rec == bhttp::error::end_of_stream || rec == asio::error::eof ||
                   rec == asio::error::connection_reset || rec == asio::error::broken_pipe;
    co_return make_error(dropped ? Errc::unavailable : Errc::io,
                         "reading the answer of " + c.key + ": " + rec.message());
  }
  co_return Status{};
}

awaitable<Result<std::unique_ptr<UpstreamCall>>> UpstreamCall::start(UpstreamPool& pool,
                                                                     const UpstreamUrl& url,
                                                                     Request request) {
  bhttp::request<bhttp::string_body> r{request.method, url.path + request.target, 11};
  r.set(bhttp::field::host, url.key());
  if (!request.content_type.empty()) r.set(bhttp::field::content_type, request.content_type);
  if (!request.accept.empty()) r.set(bhttp::field::accept, request.accept);
  if (!request.request_id.empty()) r.set("x-request-id", request.request_id);
  r.keep_alive(true);
  r.body() = std::move(request.body);
  r.prepare_payload();
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    auto connection = co_await pool.acquire(url, attempt > 0, reused);
    if (!connection) co_return connection.error();
    std::unique_ptr<UpstreamCall> call(new UpstreamCall(pool, std::move(connection.value())));
    call->deadline_ = request.deadline;
    auto sent = co_await call->exchange(r);
    if (sent) co_return call;
    // A pooled connection the engine closed meanwhile: once more on a new one.
    if (reused && attempt == 0 && sent.error().code == Errc::unavailable) continue;
    co_return sent.error();
  }
}

unsigned UpstreamCall::status() const { return parser_.get().result_int(); }

std::string_view UpstreamCall::header(bhttp::field field) const {
  auto it = parser_.get().find(field);
  return it == parser_.get().end() ? std::string_view() : std::string_view(it->value());
}

bool UpstreamCall::done() const { return parser_.is_done(); }

awaitable<Result<std::string>> UpstreamCall::read_some() {
  constexpr std::size_t kPiece = 16 * 1024;
  // Not a std::string resized to kPiece: that zero-fills 16 KiB for every read.
  std::unique_ptr<char[]> piece(new char[kPiece]);
  std::string out;
  while (!parser_.is_done()) {
    if (failed_ || !connection_) co_return make_error(Errc::io, "upstream connection closed");
    auto& c = *connection_;
    parser_.get().body().data = piece.get();
    parser_.get().body().size = kPiece;
    arm();
    auto [ec, n] =
        co_await bhttp::async_read_some(c.stream, c.buffer, parser_, use_nothrow_awaitable);
    (void)n;
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      failed_ = true;
      co_return make_error(Errc::io, "reading from " + c.key + ": " + ec.message());
    }
    const std::size_t got = kPiece - parser_.get().body().size;
    if (got > 0) {
      out.assign(piece.get(), got);
      co_return out;
    }
  }
  co_return out;
}

awaitable<Result<std::string>> UpstreamCall::read_all(std::size_t limit) {
  std::string all;
  for (;;) {
    auto piece = co_await read_some();
    if (!piece) co_return piece.error();
    if (piece->empty()) co_return all;
    if (all.size() + piece->size() > limit) {
      failed_ = true;
      co_return make_error(Errc::limit_exceeded,
                           "upstream answer larger than " + std::to_string(limit) + " bytes");
    }
    all.append(*piece);
  }
}

void UpstreamCall::cancel() {
  failed_ = true;
  if (!connection_) return;
  boost::system::error_code ignored;
  connection_->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  connection_->stream.socket().close(ignored);
}

}  // namespace loraplane::gateway::inference
