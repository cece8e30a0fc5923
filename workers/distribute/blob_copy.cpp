#include "workers/distribute/blob_copy.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <memory>

#include "common/blocking_io.hpp"
#include "common/http_client.hpp"
#include "common/kafka_range.hpp"
#include "schema/upload_headers.hpp"

namespace loraplane::distribute {

namespace {

// Appends the chunks of one upload in index order.
class ChunkSink {
 public:
  ChunkSink(const schema::UploadLocation& location, storage::BlobWriter& writer)
      : location_(location), writer_(writer) {}

  Status operator()(const kafka::Message& m) {
    if (m.key != location_.upload_id) return {};  // another upload sharing the partition
    auto header = schema::parse_headers(m.headers);
    if (!header)
      return make_error(Errc::corrupt, "upload " + location_.upload_id + " chunk at offset " +
                                           std::to_string(m.offset) + ": " +
                                           header.error().message);
    if (header->upload_id != location_.upload_id) return {};
    if (header->index < next_index_) return {};  // duplicate from a producer retry
    if (header->index > next_index_)
      return make_error(Errc::corrupt, "upload " + location_.upload_id + ": chunk " +
                                           std::to_string(next_index_) + " missing (found " +
                                           std::to_string(header->index) + ")");
    if (next_index_ >= location_.chunk_count)
      return make_error(Errc::corrupt, "upload " + location_.upload_id + ": more than " +
                                           std::to_string(location_.chunk_count) + " chunks");
    if (auto st = writer_.append(m.value); !st) return st;
    ++next_index_;
    return {};
  }

  std::uint32_t chunks() const { return next_index_; }

 private:
  const schema::UploadLocation& location_;
  storage::BlobWriter& writer_;
  std::uint32_t next_index_ = 0;
};

namespace bhttp = boost::beast::http;

// GET `url` into `writer` (not committed here). Errc::not_found for a 404, Errc::unavailable
// for a node that cannot be reached, times out, answers otherwise or stops short.
Status fetch_into(const std::string& url, storage::BlobWriter& writer, std::uint64_t size,
                  std::chrono::milliseconds idle_timeout) {
  auto parsed = http::parse_url(url);
  if (!parsed) return parsed.error();
  const auto& u = *parsed;
  auto failed = [&url](std::string_view step, const boost::system::error_code& ec) {
    return make_error(Errc::unavailable, std::string(step) + " " + url + ": " + ec.message());
  };
  asio::io_context io;
  tcp::resolver resolver(io);
  boost::beast::tcp_stream stream(io);
  tcp::resolver::results_type addresses;
  stream.expires_after(idle_timeout);
  auto ec = loraplane::run_blocking(io, [&](auto done) {
    resolver.async_resolve(u.host, u.port,
                           [&addresses, done](boost::system::error_code e,
                                              tcp::resolver::results_type r) mutable {
                             addresses = std::move(r);
                             done(e);
                           });
  });
  if (ec) return failed("resolving", ec);
  stream.expires_after(idle_timeout);
  ec = loraplane::run_blocking(io,
                               [&](auto done) { stream.async_connect(addresses, done); });
  if (ec) return failed("connecting to", ec);
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, u.target, 11};
  req.set(bhttp::field::host, u.host + ":" + u.port);
  stream.expires_after(idle_timeout);
  ec = loraplane::run_blocking(io, [&](auto done) { bhttp::async_write(stream, req, done); });
  if (ec) return failed("sending to", ec);
  boost::beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(size + 1);
  stream.expires_after(idle_timeout);
  ec = loraplane::run_blocking(
      io, [&](auto done) { bhttp::async_read_header(stream, buffer, parser, done); });
  if (ec) return failed("reading the answer of", ec);
  const unsigned status = parser.get().result_int();
  if (status == 404) return make_error(Errc::not_found, url + " answered 404");
  if (status != 200)
    return make_error(Errc::unavailable, url + " answered " + std::to_string(status));
  constexpr std::size_t kPiece = 1 << 20;
  auto piece = std::make_unique<char[]>(kPiece);
  while (!parser.is_done()) {
    parser.get().body().data = piece.get();
    parser.get().body().size = kPiece;
    stream.expires_after(idle_timeout);
    ec = loraplane::run_blocking(
        io, [&](auto done) { bhttp::async_read_some(stream, buffer, parser, done); });
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec == bhttp::error::body_limit)
      return make_error(Errc::corrupt, url + " sent more than the blob's " +
                                           std::to_string(size) + " bytes");
    if (ec) return failed("reading the blob from", ec);
    const std::size_t got = kPiece - parser.get().body().size;
    if (got > 0)
      if (auto st = writer.append(std::string_view(piece.get(), got)); !st) return st;
  }
  return {};
}

}  // namespace

Result<storage::BlobInfo> copy_from_peers(storage::BlobStore& store,
                                          const std::vector<std::string>& urls,
                                          const std::string& sha256, std::uint64_t size,
                                          std::chrono::milliseconds idle_timeout) {
  bool retryable = false;
  std::string last = "no other storage node holds it";
  for (const auto& url : urls) {
    auto writer = store.begin_write(sha256, size);
    if (!writer) return writer.error();
    Result<storage::BlobInfo> copied = make_error(Errc::internal, "not committed");
    if (auto fetched = fetch_into(url, **writer, size, idle_timeout); fetched) {
      copied = (*writer)->commit();  // Errc::corrupt: size or sha256 differ, nothing kept
      if (copied) return copied;
    } else {
      (*writer)->abort();
      copied = fetched.error();
    }
    spdlog::warn("copy of blob {} from {}: {}", sha256, url, copied.error().message);
    retryable = retryable || !permanent_copy_error(copied.error().code);
    last = copied.error().message;
  }
  return make_error(retryable ? Errc::unavailable : Errc::not_found,
                    "blob " + sha256 + " could not be copied from another storage node (last: " +
                        last + ")");
}

Result<storage::BlobInfo> copy_upload(const kafka::Cluster& cluster, storage::BlobStore& store,
                                      const CopyRequest& request,
                                      std::chrono::milliseconds idle_timeout) {
  const auto& loc = request.location;
  if (loc.chunk_count == 0 || loc.last_offset < loc.first_offset)
    return make_error(Errc::corrupt, "upload " + loc.upload_id + ": empty chunk range");
  auto writer = store.begin_write(request.sha256, request.size);
  if (!writer) return writer.error();
  ChunkSink sink(loc, **writer);
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  Clock::duration in_sink{};
  Clock::time_point first{};
  auto st = kafka::read_range(
      cluster, kafka::kUploads, loc.partition, loc.first_offset, loc.last_offset,
      [&](const kafka::Message& m) {
        const auto start = Clock::now();
        if (first == Clock::time_point{}) first = start;
        auto taken = sink(m);
        in_sink += Clock::now() - start;  // hashing and writing, as opposed to waiting for Kafka
        return taken;
      },
      idle_timeout);
  const auto t1 = Clock::now();
  if (st && sink.chunks() != loc.chunk_count)
    st = make_error(Errc::corrupt, "upload " + loc.upload_id + ": " +
                                       std::to_string(sink.chunks()) + " of " +
                                       std::to_string(loc.chunk_count) + " chunks in range");
  if (!st) {
    (*writer)->abort();
    return st.error();
  }
  auto committed = (*writer)->commit();
  const auto t2 = Clock::now();
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  spdlog::info("copy of upload {}: read {:.0f} ms (first chunk after {:.0f} ms, {:.0f} ms of it "
                "writing), commit {:.0f} ms",
                loc.upload_id, ms(t1 - t0), ms(first - t0), ms(in_sink), ms(t2 - t1));
  return committed;
}

}  // namespace loraplane::distribute
