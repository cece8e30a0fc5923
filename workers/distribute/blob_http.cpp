#include "workers/distribute/blob_http.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>
#include <string>

#include "common/sha256.hpp"
#include "workers/distribute/byte_range.hpp"
#include "workers/distribute/distribute_metrics.hpp"

namespace loraplane::distribute {

namespace {

namespace beast = http::beast;
namespace bhttp = beast::http;
using http::Status;

// Counts one response in progress; refuses beyond the bound.
class ActiveSlot {
 public:
  explicit ActiveSlot(BlobService& svc) : svc_(svc) {
    acquired_ = ++svc_.active <= svc_.options.max_active_responses;
    if (acquired_) {
      distribute_metrics().active_responses.Increment();
    } else {
      --svc_.active;
    }
  }
  ~ActiveSlot() {
    if (!acquired_) return;
    --svc_.active;
    distribute_metrics().active_responses.Decrement();
  }
  ActiveSlot(const ActiveSlot&) = delete;
  ActiveSlot& operator=(const ActiveSlot&) = delete;
  bool acquired() const { return acquired_; }

 private:
  BlobService& svc_;
  bool acquired_ = false;
};

http::Response unavailable(std::string_view message) {
  auto res = http::error_response(Status::service_unavailable, "server_error", "busy", message);
  res.set(bhttp::field::retry_after, "1");
  return res;
}

struct PieceRead {
  // The store's own buffer (no copy into a string of ours: that copy and the page faults of a
  // fresh buffer per chunk were a third of the node's CPU per blob served). A committed chunk
  // lives in a BlobDB blob file, so the buffer is one RocksDB allocated for the read and owns.
  std::unique_ptr<storage::PinnedBytes> pinned;
  std::string_view bytes;
  Status status = Status::ok;  // ok, not_found or internal_server_error
};

// One piece [offset, offset + length) that lies within one chunk, so at most one chunk is in
// memory for it.
struct ReadPiece {
  storage::BlobStore* store;
  std::string sha;
  std::uint64_t offset;
  std::uint64_t length;
  PieceRead operator()() const {
    PieceRead out;
    auto got = store->read_pinned(sha, offset, length);
    if (!got) {
      out.status = got.error().code == Errc::not_found ? Status::not_found
                                                       : Status::internal_server_error;
      spdlog::warn("blob {} read at {}+{} failed: {}", sha, offset, length, got.error().message);
      return out;
    }
    out.pinned = std::move(*got);
    out.bytes = out.pinned->bytes();
    return out;
  }
};

struct StatBlob {
  storage::BlobStore* store;
  std::string sha;
  std::optional<storage::BlobInfo> operator()() const { return store->stat(sha); }
};

bhttp::response<bhttp::empty_body> blob_head(const storage::BlobInfo& info,
                                             const RangeRequest& range,
                                             const std::string& request_id) {
  bool partial = range.kind == RangeKind::partial;
  bhttp::response<bhttp::empty_body> res{partial ? Status::partial_content : Status::ok, 11};
  res.set(bhttp::field::content_type, "application/octet-stream");
  res.set(bhttp::field::accept_ranges, "bytes");
  res.set(bhttp::field::etag, "\"" + info.sha256 + "\"");
  res.set("x-content-sha256", info.sha256);
  res.set("x-request-id", request_id);
  if (partial) res.set(bhttp::field::content_range, content_range(range, info.size));
  res.content_length(range.range.length);
  res.keep_alive(false);
  return res;
}

// Stops the connection so the server's own write of the handler's return value fails and
// nothing is appended to what was sent.
void end_stream(beast::tcp_stream& stream, tcp::socket::shutdown_type how) {
  boost::system::error_code ignored;
  stream.socket().shutdown(how, ignored);
}

awaitable<bool> write_piece(BlobService& svc, beast::tcp_stream& stream, std::string_view bytes) {
  stream.expires_after(svc.options.write_timeout);
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()),
                                            use_nothrow_awaitable);
  if (ec) co_return false;
  distribute_metrics().served_bytes.Increment(static_cast<double>(n));
  co_return true;
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): the coroutine owns its copy
awaitable<std::optional<PieceRead>> read_piece(BlobService& svc, ReadPiece read) {
  auto piece = co_await run_blocking(svc.pool, svc.gate, std::move(read));
  co_return piece;
}

// Streams the range chunk by chunk, reading the next chunk from the store while the current
// one goes out on the socket (two chunks in memory at most).
awaitable<bool> write_body(BlobService& svc, beast::tcp_stream& stream,
                           const storage::BlobInfo& info, ByteRange range) {
  using namespace asio::experimental::awaitable_operators;
  const std::uint64_t end = range.offset + range.length;
  auto piece_at = [&](std::uint64_t pos) {
    const std::uint64_t chunk_left = info.chunk_size - pos % info.chunk_size;
    return ReadPiece{&svc.store, info.sha256, pos, std::min(end - pos, chunk_left)};
  };
  auto usable = [](const std::optional<PieceRead>& piece, std::uint64_t length) {
    return piece && piece->status == Status::ok && piece->bytes.size() == length;
  };
  if (range.offset >= end) co_return true;
  // Named, not temporaries in the co_await expressions: GCC 12 destroys such temporaries twice.
  ReadPiece first = piece_at(range.offset);
  const std::uint64_t first_length = first.length;
  auto current = co_await run_blocking(svc.pool, svc.gate, std::move(first));
  if (!usable(current, first_length)) co_return false;
  std::uint64_t pos = range.offset + first_length;
  while (pos < end) {
    ReadPiece next = piece_at(pos);
    const std::uint64_t next_length = next.length;
    auto both = write_piece(svc, stream, current->bytes) && read_piece(svc, std::move(next));
    auto [written, next_piece] = co_await std::move(both);
    if (!written || !usable(next_piece, next_length)) co_return false;
    current = std::move(next_piece);
    pos += next_length;
  }
  auto last = write_piece(svc, stream, current->bytes);
  co_return co_await std::move(last);
}

// What serve_blob did: answered with a body it wrote itself (`sent`), or has `response` for
// the server (or, for HEAD, for write_head_only) to send.
struct BlobAnswer {
  http::Response response;
  bool sent = false;
};

// GCC 12 at -O2 reports -Wmismatched-new-delete on coroutine frames that Asio allocates and
// frees with its own matching operators (a false positive after inlining).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
awaitable<BlobAnswer> answer_blob(std::shared_ptr<BlobService> svc, http::StreamContext& ctx) {
  const auto& req = ctx.parser.get();
  std::string sha;
  for (const auto& [name, value] : ctx.params)
    if (name == "sha256") sha = value;
  if (sha.size() != 64 || !is_sha256_hex(sha) || sha.find_first_of("ABCDEF") != std::string::npos)
    co_return BlobAnswer{
        http::error_response(Status::bad_request, "invalid_request_error", "invalid_sha256",
                             "blob name must be 64 lowercase hex digits (sha256)", "sha256")};
  ActiveSlot slot(*svc);
  if (!slot.acquired()) {
    distribute_metrics().busy.Increment();
    co_return BlobAnswer{unavailable("too many blob downloads in progress; retry later")};
  }
  StatBlob stat{&svc->store, sha};  // named: see write_body
  auto info = co_await run_blocking(svc->pool, svc->gate, std::move(stat));
  if (!info) co_return BlobAnswer{unavailable("storage node is shutting down")};
  if (!*info)
    co_return BlobAnswer{http::error_response(Status::not_found, "invalid_request_error",
                                              "blob_not_found",
                                              "no blob " + sha + " on this storage node")};
  const storage::BlobInfo blob = **info;
  const std::string etag = "\"" + blob.sha256 + "\"";
  if (auto inm = req.find(bhttp::field::if_none_match);
      inm != req.end() && (inm->value() == etag || inm->value() == "*")) {
    http::Response res{Status::not_modified, 11};
    res.set(bhttp::field::etag, etag);
    co_return BlobAnswer{std::move(res)};
  }
  RangeRequest range{RangeKind::whole, {0, blob.size}};
  if (auto header = req.find(bhttp::field::range); header != req.end())
    range = parse_range(header->value(), blob.size);
  if (range.kind == RangeKind::unsatisfiable) {
    auto res = http::error_response(
        Status::range_not_satisfiable, "invalid_request_error", "range_not_satisfiable",
        "range outside blob of " + std::to_string(blob.size) + " bytes");
    res.set(bhttp::field::content_range, content_range(range, blob.size));
    co_return BlobAnswer{std::move(res)};
  }
  auto head = blob_head(blob, range, ctx.request_id);
  bhttp::response_serializer<bhttp::empty_body> serializer{head};
  ctx.stream.expires_after(svc->options.write_timeout);
  auto [ec, n] = co_await bhttp::async_write_header(ctx.stream, serializer, use_nothrow_awaitable);
  (void)n;
  bool sent = !ec;
  if (sent && req.method() == bhttp::verb::get)
    sent = co_await write_body(*svc, ctx.stream, blob, range.range);
  // A failed body cannot be signalled any more: reset so the client sees a short read.
  end_stream(ctx.stream, sent ? tcp::socket::shutdown_send : tcp::socket::shutdown_both);
  co_return BlobAnswer{http::Response{head.result(), 11}, true};
}

// A HEAD answer carries the GET answer's header (Content-Length included) and no body, which
// the server's own write of a string body would send.
awaitable<void> write_head_only(http::StreamContext& ctx, const http::Response& res) {
  bhttp::response<bhttp::empty_body> head{bhttp::response_header<>(res.base())};
  head.set("x-request-id", ctx.request_id);
  head.keep_alive(false);
  bhttp::response_serializer<bhttp::empty_body> serializer{head};
  ctx.stream.expires_after(std::chrono::seconds(30));
  auto [ec, n] = co_await bhttp::async_write_header(ctx.stream, serializer, use_nothrow_awaitable);
  (void)ec;
  (void)n;
  end_stream(ctx.stream, tcp::socket::shutdown_send);
}

awaitable<http::Response> serve_blob(std::shared_ptr<BlobService> svc, http::StreamContext& ctx) {
  const bool is_head = ctx.parser.get().method() == bhttp::verb::head;
  auto answering = answer_blob(std::move(svc), ctx);
  auto answer = co_await std::move(answering);
  if (!answer.sent && is_head) co_await write_head_only(ctx, answer.response);
  co_return std::move(answer.response);
}
#pragma GCC diagnostic pop

}  // namespace

void add_blob_routes(http::Router& router, std::shared_ptr<BlobService> service) {
  auto handler = [service = std::move(service)](http::StreamContext& ctx) {
    return serve_blob(service, ctx);
  };
  router.add_stream(http::Verb::get, std::string(kBlobRoute), handler);
  router.add_stream(http::Verb::head, std::string(kBlobRoute), handler);
}

}  // namespace loraplane::distribute
