#include "workers/distribute/blob_copy.hpp"

#include <spdlog/spdlog.h>

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

}  // namespace

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
