// The import job: admit the adapter like an upload, resolve the repo's revision to a commit on
// the Hugging Face Hub, fetch adapter_config.json and stream adapter_model.safetensors into
// loraplane.uploads as chunks (as the gateway does for an upload), then validate those chunks
// exactly as an upload's. From there on an import is an upload: the distribute worker copies
// the same chunks into the blob store. The adapter records the commit it came from.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "common/kafka_owned.hpp"
#include "common/seal.hpp"
#include "common/sha256.hpp"
#include "schema/upload_headers.hpp"
#include "workers/validate/hub_client.hpp"
#include "workers/validate/job_handler.hpp"
#include "workers/validate/validate_metrics.hpp"

namespace loraplane::validate {

namespace {

constexpr std::size_t kChunkBytes = kImportChunkBytes;
constexpr int kChunksInFlight = kImportChunksInFlight;
constexpr std::uint64_t kMaxConfigBytes = 64 * 1024;

// Publishes a byte stream as one upload's chunks (key = upload id, so one partition, in order),
// at most kChunksInFlight unacknowledged; remembers where they landed.
class ChunkPublisher {
 public:
  ChunkPublisher(kafka::Producer& producer, std::string upload_id, std::string request_id,
                 std::chrono::milliseconds timeout)
      : producer_(producer),
        upload_id_(std::move(upload_id)),
        request_id_(std::move(request_id)),
        timeout_(timeout) {}
  ~ChunkPublisher() { (void)wait_all(); }

  Status add(std::string_view bytes) {
    pending_.append(bytes);
    while (pending_.size() > kChunkBytes) {  // the last chunk is held back for its `last` flag
      if (auto st = send(pending_.substr(0, kChunkBytes), false); !st) return st;
      pending_.erase(0, kChunkBytes);
    }
    return {};
  }

  Status finish() {
    if (auto st = send(std::move(pending_), true); !st) return st;
    pending_.clear();
    return wait_all();
  }

  schema::JobUpload location(std::uint64_t size, std::string sha256) const {
    schema::JobUpload u;
    u.upload_id = upload_id_;
    u.chunk_count = index_;
    u.size_bytes = size;
    u.sha256 = std::move(sha256);
    std::lock_guard lock(tally_->mutex);
    u.partition = tally_->landed.partition;
    u.first_offset = tally_->landed.first_offset;
    u.last_offset = tally_->landed.last_offset;
    return u;
  }

 private:
  Status send(std::string chunk, bool last) {
    auto& t = *tally_;
    {
      std::unique_lock lock(t.mutex);
      if (!t.cv.wait_for(lock, timeout_, [&] { return t.in_flight < kChunksInFlight || t.error; }))
        return make_error(Errc::unavailable, "uploads topic: no acknowledgement in time");
      if (t.error) return *t.error;
      ++t.in_flight;
    }
    schema::UploadChunkHeader header;
    header.upload_id = upload_id_;
    header.index = index_++;
    header.last = last;
    if (last) header.count = index_;
    auto headers = schema::to_headers(header, request_id_);
    // Handed over to the producer, which copies it no more, as with the gateway's chunks.
    kafka::produce_owned(producer_, kafka::kUploads, upload_id_, std::move(chunk),
                         std::move(headers), [tally = tally_](Result<kafka::Delivered> d) {
                           std::lock_guard lock(tally->mutex);
                           --tally->in_flight;
                           if (!d) {
                             if (!tally->error) tally->error = d.error();
                           } else {
                             tally->landed.add(*d);
                           }
                           tally->cv.notify_all();
                         });
    return {};
  }

  Status wait_all() {
    auto& t = *tally_;
    std::unique_lock lock(t.mutex);
    if (!t.cv.wait_for(lock, timeout_, [&] { return t.in_flight == 0; }))
      return make_error(Errc::unavailable, "uploads topic: no acknowledgement in time");
    if (t.error) return *t.error;
    return {};
  }

  kafka::Producer& producer_;
  const std::string upload_id_;
  const std::string request_id_;
  const std::chrono::milliseconds timeout_;
  std::string pending_;
  std::uint32_t index_ = 0;
  // Shared with the delivery reports, which may outlive a publisher that gave up waiting.
  struct Tally {
    std::mutex mutex;
    std::condition_variable cv;
    int in_flight = 0;
    std::optional<Error> error;
    schema::ChunkSpan landed;
  };
  std::shared_ptr<Tally> tally_ = std::make_shared<Tally>();
};

bool has(const RepoRevision& rev, std::string_view file) {
  return std::find(rev.files.begin(), rev.files.end(), file) != rev.files.end();
}

}  // namespace

JobHandler::Outcome JobHandler::import(const schema::Job& job) {
  auto state = adapter_of(job);
  if (!state) return Outcome::ignored;
  if (state->adapter.status == schema::AdapterStatus::deleting)
    return finish_delete(std::move(*state));  // e.g. tenant_gone, cut short by a crash
  if (!in_progress(*state)) return Outcome::skipped;  // a redelivered job
  if (!job.hf_import) return fail(*state, "invalid_request", "import job without a repo");
  auto tier = tenants_.wait_for(job.tenant_id, options_.state_wait);
  if (!tier) {
    if (stopping_.load()) return Outcome::retry;
    tier = schema::Tier::shared;
  }
  if (state->adapter.status == schema::AdapterStatus::pending) {
    if (auto refused = admit(job, *state, *tier)) return *refused;
  }
  const auto& im = *job.hf_import;
  std::optional<std::string> token;
  if (im.hf_token_sealed) {
    auto sealer = Sealer::from_env();
    if (!sealer || !*sealer)
      return fail(*state, "hub_auth_failed",
                  "hf_token: this validate worker has no LORAPLANE_SEAL_KEY to open it");
    auto opened = (*sealer)->open(*im.hf_token_sealed);
    if (!opened) return fail(*state, "hub_auth_failed", "hf_token: " + opened.error().message);
    token = std::move(opened).value();
  }

  auto hub_options = hub_options_from_env();
  hub_options.stop = &stopping_;
  const HubClient hub(std::move(hub_options));
  // The worker stopping between two attempts is not the adapter's fault: the job runs again.
  auto hub_failed = [&](const HubError& e) -> Outcome {
    if (e.code == "stopping") return Outcome::retry;
    return fail(*state, e.code, e.message);
  };
  auto revision = hub.resolve(im.repo, im.revision, token);
  if (!revision) return hub_failed(revision.error);
  const auto& rev = *revision.value;
  const std::string where = "repo '" + im.repo + "' at " + rev.commit.substr(0, 12);
  if (!has(rev, "adapter_model.safetensors")) {
    if (has(rev, "adapter_model.bin"))
      return fail(*state, "unsupported_format",
                  where + " has only adapter_model.bin (pickle) weights; loraplane accepts "
                          "adapter_model.safetensors only");
    return fail(*state, "file_not_found", where + " has no adapter_model.safetensors");
  }
  if (!has(rev, "adapter_config.json"))
    return fail(*state, "unsupported_format", where + " has no adapter_config.json");
  auto config = hub.fetch(im.repo, rev.commit, "adapter_config.json", token, kMaxConfigBytes);
  if (!config && config.error.code == "adapter_too_large")
    return fail(*state, "invalid_adapter",
                "adapter_config.json of " + where + " is larger than " +
                    std::to_string(kMaxConfigBytes) + " bytes");
  if (!config) return hub_failed(config.error);

  const auto start = std::chrono::steady_clock::now();
  const std::string upload_id = "upl_" + random_base62(20);
  ChunkPublisher publisher(writer_.producer(), upload_id, writer_.request_id(),
                           options_.produce_timeout);
  Sha256 sha;
  auto downloaded = hub.download(
      im.repo, rev.commit, "adapter_model.safetensors", token,
      schema::limits(*tier).max_adapter_bytes, [&](std::string_view piece) -> Status {
        if (stopping_.load()) return make_error(Errc::unavailable, "the worker is stopping");
        sha.update(piece);
        return publisher.add(piece);
      });
  if (!downloaded) {
    if (downloaded.error.code == "sink" || downloaded.error.code == "stopping") {
      // Kafka could not take the bytes, or the worker stops: the job runs again later.
      spdlog::warn("validate: import of {} for adapter {} interrupted: {}", im.repo, job.adapter_id,
                   downloaded.error.message);
      if (!stopping_.load()) validate_metrics().failure("kafka");
      return Outcome::retry;
    }
    return fail(*state, downloaded.error.code, downloaded.error.message);
  }
  if (auto st = publisher.finish(); !st) {
    spdlog::warn("validate: import of {} for adapter {}: storing the chunks: {}", im.repo,
                 job.adapter_id, st.error().message);
    return Outcome::retry;
  }
  const auto& got = *downloaded.value;
  std::string sha256 = sha.finish_hex();
  // The Hub lists an LFS file's sha256: bytes that differ were corrupted on the way.
  if (!got.sha256.empty() && got.sha256 != sha256)
    return fail(*state, "checksum_mismatch",
                "adapter_model.safetensors of " + where + ": the bytes received have sha256 " +
                    sha256 + ", the Hub lists " + got.sha256 + "; import it again");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("validate: adapter {} imported from {}@{} ({} bytes in {:.1f} s{})", job.adapter_id,
               im.repo, rev.commit, got.bytes, seconds,
               got.sha256.empty() ? ", no sha256 from the Hub to check" : ", sha256 checked");

  // From here on, exactly an upload: validate the chunks just written.
  schema::Job as_upload = job;
  as_upload.upload = publisher.location(got.bytes, std::move(sha256));
  as_upload.upload->config = std::move(*config.value);
  auto with_commit = *state;
  with_commit.adapter.source.commit_sha = rev.commit;
  return validate_upload(as_upload, with_commit, *tier);
}

}  // namespace loraplane::validate
