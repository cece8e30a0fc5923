#include "test/unit/distribute/distribute_fixture.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>
#include <future>

#include "common/sha256.hpp"
#include "schema/json.hpp"
#include "schema/upload_headers.hpp"

namespace loraplane::distribute::test {

using namespace std::chrono_literals;

std::string make_bytes(std::size_t n, std::uint64_t seed) {
  std::string out(n, '\0');
  std::uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return out;
}

Fixture::Fixture() : Fixture(kafka::Cluster::embedded()) {}

Fixture::Fixture(std::unique_ptr<kafka::Cluster> cluster) : cluster_(std::move(cluster)) {
  BOOST_REQUIRE(cluster_->ensure_topics(kafka::default_topics(), 30s));
  storage::DbOptions options;
  options.blobs.chunk_size = kBlobChunk;
  options.blobs.allow_tiny_chunks_for_tests = true;
  auto db = storage::Db::open(dir_.path() + "/db", options);
  BOOST_REQUIRE_MESSAGE(db.ok(), "open db");
  db_ = std::move(*db);
  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      io_.get_executor());
  io_thread_ = std::thread([this] { io_.run(); });
  producer_ = kafka::Producer::create(*cluster_, {});
  kafka::ConsumerOptions reader;
  reader.topics = {std::string(kafka::kJobs)};
  jobs_reader_ = kafka::Consumer::start(*cluster_, reader, [this](const kafka::Message& m) {
    auto job = schema::parse<schema::Job>(m.value);
    if (!job) return kafka::Handled::done;  // Boost.Test is not thread-safe: checked by callers
    std::lock_guard lock(jobs_mu_);
    jobs_.push_back(std::move(*job));
    return kafka::Handled::done;
  });
}

Fixture::~Fixture() {
  worker_.reset();
  jobs_reader_.reset();
  producer_.reset();
  work_.reset();
  io_.stop();
  io_thread_.join();
  db_.reset();
}

DistributeOptions Fixture::default_options() {
  DistributeOptions options;
  options.node_id = "node-a";
  return options;
}

DistributeWorker& Fixture::start_worker(DistributeOptions options) {
  worker_ = std::make_unique<DistributeWorker>(io_, *cluster_, *db_, std::move(options));
  worker_->start();
  BOOST_REQUIRE(wait_for([this] { return worker_->ready(); }));
  return *worker_;
}

void Fixture::stop_worker() { worker_.reset(); }

namespace {

kafka::Delivered produce_sync(kafka::Producer& producer, std::string_view topic,
                              std::string_view key, std::optional<std::string_view> value,
                              std::vector<kafka::Header> headers = {}) {
  std::promise<Result<kafka::Delivered>> done;
  producer.produce_delivered(topic, key, value, std::move(headers),
                             [&done](Result<kafka::Delivered> d) { done.set_value(std::move(d)); });
  auto delivered = done.get_future().get();
  BOOST_TEST_REQUIRE(delivered.ok());
  return *delivered;
}

}  // namespace

Upload Fixture::produce_upload(const std::string& upload_id, std::string bytes, bool noise) {
  Upload up;
  up.sha256 = sha256_hex(bytes);
  const auto count = static_cast<std::uint32_t>((bytes.size() + kUploadChunk - 1) / kUploadChunk);
  up.location.upload_id = upload_id;
  up.location.chunk_count = count;
  for (std::uint32_t i = 0; i < count; ++i) {
    schema::UploadChunkHeader h{1, upload_id, i, std::nullopt, i + 1 == count};
    if (h.last) h.count = count;
    auto chunk = std::string_view(bytes).substr(i * kUploadChunk, kUploadChunk);
    auto d = produce_sync(*producer_, kafka::kUploads, upload_id, chunk, schema::to_headers(h));
    if (i == 0) {
      up.location.partition = d.partition;
      up.location.first_offset = d.offset;
    }
    up.location.last_offset = d.offset;
    if (noise && i == 0) {  // another upload's chunk in the same partition
      for (int k = 0; k < 256; ++k) {
        auto other = "upl_other_" + std::to_string(k);
        schema::UploadChunkHeader oh{1, other, 0, 1, true};
        auto od = produce_sync(*producer_, kafka::kUploads, other, "foreign bytes",
                               schema::to_headers(oh));
        if (od.partition == up.location.partition) break;
      }
      // and a producer retry's duplicate of chunk 0
      produce_sync(*producer_, kafka::kUploads, upload_id, chunk, schema::to_headers(h));
    }
  }
  up.bytes = std::move(bytes);
  return up;
}

void Fixture::produce_state(const schema::AdapterState& state) {
  auto json = schema::to_json(state);
  BOOST_TEST_REQUIRE(schema::parse<schema::AdapterState>(json).ok());
  produce_sync(*producer_, kafka::kAdapters, state.adapter.id, json);
}

void Fixture::produce_tombstone(const std::string& adapter_id) {
  produce_sync(*producer_, kafka::kAdapters, adapter_id, std::nullopt);
}

schema::AdapterState Fixture::validated_state(const std::string& adapter_id, const Upload& upload,
                                              std::uint64_t seq) {
  schema::AdapterState s;
  s.adapter.id = adapter_id;
  s.adapter.name = "support-bot";
  s.adapter.base_model = "llama-3.1-8b-instruct";
  s.adapter.status = schema::AdapterStatus::validating;
  s.adapter.size_bytes = upload.bytes.size();
  s.adapter.sha256 = upload.sha256;
  s.adapter.rank = 8;
  s.adapter.target_modules = {"q_proj", "v_proj"};
  s.adapter.created_at = 1'717'000'000;
  s.tenant_id = "ten_test";
  s.updated_at = 1'717'000'010;
  s.seq = seq;
  s.validated = true;
  s.upload_location = upload.location;
  return s;
}

std::vector<schema::Job> Fixture::stored_jobs(const std::string& adapter_id) const {
  std::lock_guard lock(jobs_mu_);
  std::vector<schema::Job> out;
  for (const auto& job : jobs_)
    if (job.kind == schema::JobKind::stored && job.adapter_id == adapter_id) out.push_back(job);
  return out;
}

bool Fixture::wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

loraplane::test::HttpResult Fixture::get(const std::string& target,
                                         const std::map<std::string, std::string>& headers) {
  return loraplane::test::http_request(worker_->port(), "GET", target, {}, headers);
}

loraplane::test::HttpResult Fixture::head(const std::string& target) {
  namespace beast = boost::beast;
  namespace bhttp = beast::http;
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), worker_->port()));
  bhttp::request<bhttp::empty_body> req{bhttp::verb::head, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  stream.expires_after(30s);
  bhttp::write(stream, req);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::empty_body> parser;
  parser.skip(true);
  bhttp::read(stream, buffer, parser);
  loraplane::test::HttpResult out;
  out.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(field.value());
  }
  return out;
}

std::string Fixture::blob_target(const std::string& sha256) {
  return "/internal/v1/blobs/" + sha256;
}

}  // namespace loraplane::distribute::test
