#include "workers/validate/hub_client.hpp"

#include <openssl/ssl.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>
#include <thread>

#include "common/asio.hpp"
#include "common/blocking_io.hpp"

namespace loraplane::validate {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;

namespace {

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path and query
};

std::optional<Url> parse_url(std::string_view text) {
  Url url;
  if (text.starts_with("https://")) {
    url.tls = true;
    text.remove_prefix(8);
  } else if (text.starts_with("http://")) {
    text.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const auto slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(text.substr(slash));
  std::string_view port;
  if (authority.starts_with("[")) {  // an IPv6 literal: [::1] or [::1]:8080
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    url.host = std::string(authority.substr(1, close - 1));
    const auto rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(":")) return std::nullopt;
    if (!rest.empty()) port = rest.substr(1);
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  url.port = port.empty() ? (url.tls ? "443" : "80") : std::string(port);
  if (url.host.empty() || !std::all_of(url.port.begin(), url.port.end(), [](char c) {
        return c >= '0' && c <= '9';
      }))
    return std::nullopt;
  return url;
}

// The host as it is written in a url: an IPv6 literal in brackets.
std::string url_host(const Url& url) {
  return url.host.find(':') == std::string::npos ? url.host : "[" + url.host + "]";
}

// Host, with the port when it is not the scheme's default (a proxy or mirror on another port
// builds its redirects from it).
std::string host_header(const Url& url) {
  return url.port == (url.tls ? "443" : "80") ? url_host(url) : url_host(url) + ":" + url.port;
}

std::string origin(const Url& url) {
  return std::string(url.tls ? "https://" : "http://") + url_host(url) + ":" + url.port;
}

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // collected for non-2xx answers and small files
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct Request {
  Url url;
  std::optional<std::string> token;
  std::uint64_t range_from = 0;  // > 0: ask for the bytes from here
  // 2xx bodies go here piece by piece; without it they are collected (bounded).
  const std::function<Status(std::string_view)>* sink = nullptr;
  std::uint64_t collect_limit = 8 << 20;
  const std::atomic<bool>* stop = nullptr;  // HubOptions::stop
};

// One exchange on a fresh connection. Errc::unavailable for network failures (partial bodies
// were already passed to the sink); the sink's own error is returned as is.
template <class Stream>
Status exchange(asio::io_context& io, Stream& stream, const Request& req, Response& out,
                std::chrono::milliseconds timeout) {
  auto& lowest = beast::get_lowest_layer(stream);
  bhttp::request<bhttp::empty_body> head{bhttp::verb::get, req.url.target, 11};
  head.set(bhttp::field::host, host_header(req.url));
  head.set(bhttp::field::user_agent, "loraplane/1 (validate worker)");
  head.set(bhttp::field::accept_encoding, "identity");
  if (req.token) head.set(bhttp::field::authorization, "Bearer " + *req.token);
  if (req.range_from > 0) head.set(bhttp::field::range, "bytes=" + std::to_string(req.range_from) + "-");
  boost::system::error_code ec;
  lowest.expires_after(timeout);
  ec = run_blocking(io, lowest, req.stop, [&](auto done) { bhttp::async_write(stream, head, done); });
  if (ec) return make_error(Errc::unavailable, "sending the request: " + ec.message());

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(boost::none);
  parser.header_limit(64 * 1024);
  lowest.expires_after(timeout);
  ec = run_blocking(io, lowest, req.stop,
                     [&](auto done) { bhttp::async_read_header(stream, buffer, parser, done); });
  if (ec) return make_error(Errc::unavailable, "reading the answer: " + ec.message());
  const auto& msg = parser.get();
  out.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(field.value());
  }
  const bool to_sink = req.sink && out.status / 100 == 2;
  const bool chunky = out.status / 100 == 3;  // redirect bodies are ignored
  std::array<char, 64 * 1024> piece{};
  // Beast reads as much as the buffer's spare capacity (at least 512 bytes): without room a
  // 500 MB file would come 512 bytes per read.
  buffer.reserve(buffer.size() + piece.size());
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    lowest.expires_after(timeout);
    ec = run_blocking(io, lowest, req.stop,
                       [&](auto done) { bhttp::async_read(stream, buffer, parser, done); });
    if (ec == bhttp::error::need_buffer) ec = {};
    // Bytes that arrived before a failure count (a resumed download continues after them).
    const std::size_t n = piece.size() - parser.get().body().size;
    if (n > 0 && to_sink) {
      if (auto st = (*req.sink)(std::string_view(piece.data(), n)); !st) return st;
    } else if (n > 0 && !chunky) {
      if (out.body.size() + n > req.collect_limit)
        return make_error(Errc::limit_exceeded,
                          "answer larger than " + std::to_string(req.collect_limit) + " bytes");
      out.body.append(piece.data(), n);
    }
    if (ec) return make_error(Errc::unavailable, "reading the body: " + ec.message());
  }
  lowest.socket().shutdown(tcp::socket::shutdown_both, ec);
  return {};
}

Status perform(const Request& req, Response& out, std::chrono::milliseconds timeout) {
  asio::io_context io;
  tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto addresses = resolver.resolve(req.url.host, req.url.port, ec);
  if (ec)
    return make_error(Errc::unavailable, "cannot resolve " + req.url.host + ": " + ec.message());
  if (!req.url.tls) {
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    ec = run_blocking(io, stream, req.stop, [&](auto done) { stream.async_connect(addresses, done); });
    if (ec) return make_error(Errc::unavailable, "cannot connect to " + origin(req.url) + ": " + ec.message());
    return exchange(io, stream, req, out, timeout);
  }
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_default_verify_paths();
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  // SNI carries host names only, never an address (RFC 6066).
  boost::system::error_code not_an_address;
  asio::ip::make_address(req.url.host, not_an_address);
  if (not_an_address && !SSL_set_tlsext_host_name(stream.native_handle(), req.url.host.c_str()))
    return make_error(Errc::unavailable, "TLS: cannot set the server name");
  stream.set_verify_callback(ssl::host_name_verification(req.url.host));
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(timeout);
  ec = run_blocking(io, lowest, req.stop, [&](auto done) { lowest.async_connect(addresses, done); });
  if (ec) return make_error(Errc::unavailable, "cannot connect to " + origin(req.url) + ": " + ec.message());
  lowest.expires_after(timeout);
  ec = run_blocking(io, lowest, req.stop,
                     [&](auto done) { stream.async_handshake(ssl::stream_base::client, done); });
  if (ec) return make_error(Errc::unavailable, "TLS handshake with " + req.url.host + ": " + ec.message());
  return exchange(io, stream, req, out, timeout);
}

// The Hub's error message: X-Error-Message, else {"error": "..."} in the body.
std::string hub_message(const Response& r) {
  if (auto m = r.header("x-error-message"); !m.empty()) return m;
  simdjson::dom::parser parser;
  simdjson::dom::object o;
  std::string_view text;
  if (!parser.parse(r.body).get_object().get(o) && !o["error"].get_string().get(text))
    return std::string(text);
  return r.body.substr(0, 200);
}

template <class T>
HubResult<T> hub_failure(const Response& r, std::string_view what) {
  const std::string code = r.header("x-error-code");
  const std::string message = hub_message(r);
  const std::string tail = " (Hub answered " + std::to_string(r.status) +
                           (message.empty() ? "" : ": " + message) + ")";
  if (code == "GatedRepo")
    return HubResult<T>::fail("repo_gated",
                              std::string(what) + " is gated: accept its terms on the Hub and pass an "
                                                  "hf_token with access" + tail);
  if (code == "RevisionNotFound")
    return HubResult<T>::fail("revision_not_found", std::string(what) + ": revision not found" + tail);
  if (code == "EntryNotFound")
    return HubResult<T>::fail("file_not_found", std::string(what) + ": file not found" + tail);
  if (r.status == 401 && message == "Invalid credentials in Authorization header")
    return HubResult<T>::fail("hub_auth_failed", "the Hub refused hf_token" + tail);
  if (code == "RepoNotFound" || r.status == 401 || r.status == 404)
    return HubResult<T>::fail("repo_not_found",
                              std::string(what) + ": repository not found (or private: pass an "
                                                  "hf_token with access)" + tail);
  if (r.status == 403)
    return HubResult<T>::fail("repo_forbidden", std::string(what) + ": access denied" + tail);
  return HubResult<T>::fail("hub_unavailable", std::string(what) + ": unexpected answer" + tail);
}

// Follows the Hub's redirects: a relative Location stays on the same host and keeps the token;
// an absolute one on another host (the file store, with a signed url) goes without it.
Status follow(const HubOptions& options, Request req, Response& out) {
  req.stop = options.stop;
  // The Hub names the file's sha256 on its redirect (X-Linked-Etag); the file store's answer
  // keeps it, so the caller sees it beside the bytes.
  std::string linked_etag;
  for (int hop = 0; hop <= options.max_redirects; ++hop) {
    out = Response{};
    if (!linked_etag.empty()) out.headers["x-linked-etag"] = linked_etag;
    if (auto st = perform(req, out, options.timeout); !st) return st;
    linked_etag = out.header("x-linked-etag");
    if (out.status / 100 != 3) return {};
    const std::string location = out.header("location");
    if (location.empty()) return make_error(Errc::unavailable, "redirect without a Location");
    if (location.starts_with("/")) {
      req.url.target = location;
      continue;
    }
    auto next = parse_url(location);
    if (!next) return make_error(Errc::unavailable, "redirect to an unsupported url");
    if (next->host != req.url.host || next->port != req.url.port || next->tls != req.url.tls)
      req.token.reset();
    req.url = std::move(*next);
  }
  return make_error(Errc::unavailable, "more than " + std::to_string(options.max_redirects) + " redirects");
}

// Content-Range of a single-part 206: "bytes START-END/TOTAL" or "bytes START-END/*".
struct ContentRange {
  std::uint64_t first = 0;
  std::optional<std::uint64_t> total;
};
std::optional<ContentRange> parse_content_range(std::string_view text) {
  auto number = [&](std::uint64_t& into) {
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, into);
    if (ec != std::errc() || ptr == text.data()) return false;
    text.remove_prefix(static_cast<std::size_t>(ptr - text.data()));
    return true;
  };
  ContentRange out;
  std::uint64_t last = 0;
  if (!text.starts_with("bytes ")) return std::nullopt;
  text.remove_prefix(6);
  if (!number(out.first) || !text.starts_with("-")) return std::nullopt;
  text.remove_prefix(1);
  if (!number(last) || last < out.first || !text.starts_with("/")) return std::nullopt;
  text.remove_prefix(1);
  if (text == "*") return out;
  std::uint64_t total = 0;
  if (!number(total) || !text.empty() || total <= last) return std::nullopt;
  out.total = total;
  return out;
}

std::string resolve_path(std::string_view repo, std::string_view commit, std::string_view file) {
  return "/" + std::string(repo) + "/resolve/" + url_quote(commit, false) + "/" + url_quote(file, true);
}

}  // namespace

std::string url_quote(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '~' || c == '-' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

HubOptions hub_options_from_env() {
  HubOptions options;
  if (const char* env = std::getenv("HF_ENDPOINT"); env && *env) {
    options.endpoint = env;
    while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  }
  auto millis = [](const char* name, std::chrono::milliseconds& into) {
    const char* env = std::getenv(name);
    if (!env || !*env) return;
    char* end = nullptr;
    const long long value = std::strtoll(env, &end, 10);
    if (*end == '\0' && value > 0) into = std::chrono::milliseconds(value);
    else spdlog::warn("hub: ignoring {}={}: not a positive number of milliseconds", name, env);
  };
  millis("LORAPLANE_HUB_TIMEOUT_MS", options.timeout);
  millis("LORAPLANE_HUB_RETRY_MS", options.retry_backoff);
  return options;
}

HubClient::HubClient(HubOptions options) : options_(std::move(options)) {}

bool HubClient::back_off(int failures, const std::string& retry_after) const {
  auto wait = options_.retry_backoff;
  for (int i = 1; i < failures && wait < options_.max_backoff; ++i) wait *= 2;
  char* end = nullptr;
  const long long asked = std::strtoll(retry_after.c_str(), &end, 10);
  if (!retry_after.empty() && *end == '\0' && asked >= 0)  // capped before it can overflow
    wait = std::chrono::seconds(std::min<long long>(asked, 3600));
  wait = std::min(wait, options_.max_backoff);
  const auto until = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < until) {
    if (options_.stop && options_.stop->load()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(100), until - std::chrono::steady_clock::now()));
  }
  return !(options_.stop && options_.stop->load());
}

HubResult<RepoRevision> HubClient::resolve(std::string_view repo, std::string_view revision,
                                           const std::optional<std::string>& token) const {
  auto base = parse_url(options_.endpoint);
  if (!base) return HubResult<RepoRevision>::fail("hub_unavailable", "bad HF_ENDPOINT " + options_.endpoint);
  Request req{*base, token};
  req.url.target = (base->target == "/" ? "" : base->target) + "/api/models/" + std::string(repo) +
                   "/revision/" + url_quote(revision, false);
  const std::string what = "repo '" + std::string(repo) + "' at revision '" + std::string(revision) + "'";
  Response r;
  // A network failure, 429 or 5xx is worth another try (the Hub is busy or restarting).
  for (int failures = 1;; ++failures) {
    Status st = follow(options_, req, r);
    if (st && r.status != 429 && r.status < 500) break;
    const std::string why = st ? "Hub answered " + std::to_string(r.status) : st.error().message;
    const bool retryable = st || st.error().code == Errc::unavailable;
    // A stop cuts the call short (unavailable): not the Hub's fault, the job runs again.
    if (options_.stop && options_.stop->load())
      return HubResult<RepoRevision>::fail("stopping", "the worker is stopping");
    if (!retryable || failures >= options_.resume_attempts) {
      if (st) return hub_failure<RepoRevision>(r, what);
      return HubResult<RepoRevision>::fail("hub_unavailable",
                                           "Hub at " + options_.endpoint + ": " + why);
    }
    spdlog::info("hub: resolving {} failed ({}); trying again", what, why);
    if (!back_off(failures, st ? r.header("retry-after") : std::string()))
      return HubResult<RepoRevision>::fail("stopping", "the worker is stopping");
  }
  if (r.status != 200) return hub_failure<RepoRevision>(r, what);
  simdjson::dom::parser parser;
  simdjson::dom::object o;
  std::string_view sha;
  if (parser.parse(r.body).get_object().get(o) || o["sha"].get_string().get(sha) || sha.size() != 40)
    return HubResult<RepoRevision>::fail("hub_unavailable", what + ": the Hub's answer has no commit sha");
  RepoRevision out;
  out.commit = std::string(sha);
  simdjson::dom::array siblings;
  if (!o["siblings"].get_array().get(siblings)) {
    for (auto s : siblings) {
      std::string_view name;
      if (!s["rfilename"].get_string().get(name)) out.files.emplace_back(name);
    }
  }
  return HubResult<RepoRevision>{std::move(out), {}};
}

HubResult<std::string> HubClient::fetch(std::string_view repo, std::string_view commit,
                                        std::string_view file,
                                        const std::optional<std::string>& token,
                                        std::uint64_t max_bytes) const {
  std::string body;
  Sink sink = [&](std::string_view piece) -> Status {
    if (body.size() + piece.size() > max_bytes)
      return make_error(Errc::limit_exceeded, std::string(file) + " is larger than " +
                                                  std::to_string(max_bytes) + " bytes");
    body.append(piece);
    return {};
  };
  auto got = download(repo, commit, file, token, max_bytes, sink);
  if (!got) return HubResult<std::string>::fail(got.error.code, got.error.message);
  return HubResult<std::string>{std::move(body), {}};
}

std::string sha256_from_etag(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  const bool sha256 = etag.size() == 64 && std::all_of(etag.begin(), etag.end(), [](char c) {
                        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                      });
  return sha256 ? std::string(etag) : std::string();
}

HubResult<Downloaded> HubClient::download(std::string_view repo, std::string_view commit,
                                             std::string_view file,
                                             const std::optional<std::string>& token,
                                             std::uint64_t max_bytes, const Sink& sink) const {
  using R = HubResult<Downloaded>;
  auto base = parse_url(options_.endpoint);
  if (!base) return R::fail("hub_unavailable", "bad HF_ENDPOINT " + options_.endpoint);
  const std::string what = std::string(file) + " of '" + std::string(repo) + "'";
  std::uint64_t done = 0;
  std::optional<std::uint64_t> total;
  std::optional<Error> sink_error;
  int stalls = 0;
  for (;;) {
    // Bytes of this attempt go to the sink only past `done` (a server that ignores Range
    // resends from the start; those bytes are skipped).
    std::uint64_t position = 0;
    bool checked = false;
    Response answer;
    std::function<Status(std::string_view)> guarded = [&](std::string_view piece) -> Status {
      if (!checked) {
        checked = true;
        if (answer.status == 206) {
          // Where the bytes start is in Content-Range: without it they cannot be placed.
          auto range = parse_content_range(answer.header("content-range"));
          if (!range)
            return make_error(Errc::unavailable,
                              "a partial answer (206) without a valid Content-Range: '" +
                                  answer.header("content-range").substr(0, 100) + "'");
          position = range->first;
          if (range->total) total = range->total;
        } else if (auto length = answer.header("content-length"); !length.empty()) {
          total = std::strtoull(length.c_str(), nullptr, 10);
        }
        if (total && *total > max_bytes)
          return make_error(Errc::limit_exceeded, what + " is " + std::to_string(*total) +
                                                      " bytes, above the limit of " +
                                                      std::to_string(max_bytes));
        if (position > done) return make_error(Errc::unavailable, "the Hub resumed past our position");
      }
      if (position < done) {
        const auto skip = std::min<std::uint64_t>(done - position, piece.size());
        piece.remove_prefix(skip);
        position += skip;
      }
      if (piece.empty()) return {};
      if (done + piece.size() > max_bytes)
        return make_error(Errc::limit_exceeded, what + " is larger than the limit of " +
                                                    std::to_string(max_bytes) + " bytes");
      if (auto st = sink(piece); !st) {
        sink_error = st.error();
        return st;
      }
      done += piece.size();
      position += piece.size();
      return {};
    };
    Request req{*base, token, done, &guarded};
    req.url.target = (base->target == "/" ? "" : base->target) + resolve_path(repo, commit, file);
    // follow() fills `answer` with each hop's status and headers before any body byte
    // reaches the sink, which reads them.
    const std::uint64_t before = done;
    Status st = follow(options_, req, answer);
    if (sink_error) return R::fail("sink", sink_error->message);
    if (!st && st.error().code == Errc::limit_exceeded) return R::fail("adapter_too_large", st.error().message);
    if (st && answer.status / 100 != 2) {
      if (answer.status >= 500 || answer.status == 429) {
        st = make_error(Errc::unavailable, "Hub answered " + std::to_string(answer.status));
      } else {
        return hub_failure<Downloaded>(answer, what);
      }
    }
    if (st) {
      if (total && done != *total)
        st = make_error(Errc::unavailable, "connection closed at " + std::to_string(done) + " of " +
                                               std::to_string(*total) + " bytes");
      else
        return R{Downloaded{done, sha256_from_etag(answer.header("x-linked-etag"))}, {}};
    }
    stalls = done > before ? 0 : stalls + 1;
    if (options_.stop && options_.stop->load())
      return R::fail("stopping", "the worker is stopping");
    if (stalls >= options_.resume_attempts)
      return R::fail("hub_unavailable", "downloading " + what + ": " + st.error().message);
    spdlog::info("hub: downloading {} interrupted at {} bytes ({}); resuming", what, done,
                 st.error().message);
    if (!back_off(std::max(stalls, 1), answer.header("retry-after")))
      return R::fail("stopping", "the worker is stopping");
  }
}

}  // namespace loraplane::validate
