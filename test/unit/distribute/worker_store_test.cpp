// The worker stores a validated upload, reports it, and serves it: whole, by range, HEAD, and
// the error answers agents may meet.
#include <boost/test/unit_test.hpp>

#include "common/sha256.hpp"
#include "test/unit/distribute/distribute_fixture.hpp"

using namespace loraplane;
using namespace loraplane::distribute;
using namespace loraplane::distribute::test;

namespace {

constexpr std::size_t kBlobSize = 2 * 1024 * 1024 + 123'457;  // 3 upload chunks, 3 blob chunks

// Stores one adapter through the worker and waits for its stored job.
Upload store_one(Fixture& f, const std::string& adapter_id, std::uint64_t seed) {
  auto upload = f.produce_upload("upl_" + adapter_id, make_bytes(kBlobSize, seed));
  f.produce_state(Fixture::validated_state(adapter_id, upload, 3));
  BOOST_REQUIRE(Fixture::wait_for([&] { return !f.stored_jobs(adapter_id).empty(); }));
  return upload;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(worker_store)

BOOST_AUTO_TEST_CASE(validated_upload_is_stored_reported_and_served) {
  Fixture f;
  auto& worker = f.start_worker();
  auto upload = store_one(f, "adp_store1", 1);

  auto jobs = f.stored_jobs("adp_store1");
  BOOST_TEST_REQUIRE(jobs.size() == 1u);
  const auto& job = jobs.front();
  BOOST_TEST(job.tenant_id == "ten_test");
  BOOST_TEST(job.name == "support-bot");
  BOOST_TEST(job.base_model == "llama-3.1-8b-instruct");
  BOOST_TEST(job.created_at == 1'717'000'000);
  BOOST_TEST(job.job_id.starts_with("job_"));
  BOOST_TEST_REQUIRE(job.stored.has_value());
  BOOST_TEST(job.stored->node_id == "node-a");
  const std::string url =
      "http://127.0.0.1:" + std::to_string(worker.port()) + "/internal/v1/blobs/" + upload.sha256;
  BOOST_TEST(job.stored->blob_url == url);
  BOOST_TEST(worker.blob_url(upload.sha256) == url);
  BOOST_TEST(f.db().blobs().ref_count(upload.sha256) == 1u);
  BOOST_TEST(worker.stats().copied == 1u);

  auto res = f.get(Fixture::blob_target(upload.sha256));
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.body.size() == upload.bytes.size());
  BOOST_TEST((res.body == upload.bytes));
  BOOST_TEST(res.headers["content-length"] == std::to_string(kBlobSize));
  BOOST_TEST(res.headers["x-content-sha256"] == upload.sha256);
  BOOST_TEST(res.headers["accept-ranges"] == "bytes");
  BOOST_TEST(res.headers["etag"] == "\"" + upload.sha256 + "\"");
  BOOST_TEST(res.headers["content-type"] == "application/octet-stream");
  BOOST_TEST(sha256_hex(res.body) == upload.sha256);
}

BOOST_AUTO_TEST_CASE(ranges_head_and_error_answers) {
  Fixture f;
  f.start_worker();
  auto upload = store_one(f, "adp_range1", 2);
  const auto target = Fixture::blob_target(upload.sha256);
  const auto size = upload.bytes.size();

  // Across the 1 MB blob chunk boundary.
  auto res = f.get(target, {{"Range", "bytes=999990-1000009"}});
  BOOST_TEST(res.status == 206);
  BOOST_TEST((res.body == upload.bytes.substr(999'990, 20)));
  BOOST_TEST(res.headers["content-range"] == "bytes 999990-1000009/" + std::to_string(size));
  BOOST_TEST(res.headers["content-length"] == "20");

  res = f.get(target, {{"Range", "bytes=2000000-"}});
  BOOST_TEST(res.status == 206);
  BOOST_TEST((res.body == upload.bytes.substr(2'000'000)));

  res = f.get(target, {{"Range", "bytes=-100"}});
  BOOST_TEST(res.status == 206);
  BOOST_TEST((res.body == upload.bytes.substr(size - 100)));

  res = f.get(target, {{"Range", "bytes=" + std::to_string(size) + "-"}});
  BOOST_TEST(res.status == 416);
  BOOST_TEST(res.headers["content-range"] == "bytes */" + std::to_string(size));

  res = f.get(target, {{"If-None-Match", "\"" + upload.sha256 + "\""}});
  BOOST_TEST(res.status == 304);
  BOOST_TEST(res.body.empty());

  auto head = f.head(target);
  BOOST_TEST(head.status == 200);
  BOOST_TEST(head.headers["content-length"] == std::to_string(size));
  BOOST_TEST(head.headers["x-content-sha256"] == upload.sha256);

  const std::string unknown(64, 'a');
  res = f.get(Fixture::blob_target(unknown));
  BOOST_TEST(res.status == 404);
  BOOST_TEST(res.body.find("blob_not_found") != std::string::npos);
  BOOST_TEST(f.head(Fixture::blob_target(unknown)).status == 404);

  for (std::string bad : {std::string("xyz"), std::string(64, 'A'), std::string(63, 'a')}) {
    BOOST_TEST_CONTEXT(bad) {
      res = f.get(Fixture::blob_target(bad));
      BOOST_TEST(res.status == 400);
      BOOST_TEST(res.body.find("invalid_sha256") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(ops_routes_on_the_same_listener) {
  Fixture f;
  f.start_worker();
  auto res = f.get("/healthz");
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.body.find("distribute") != std::string::npos);
  store_one(f, "adp_metrics1", 3);
  res = f.get("/metrics");
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.body.find("loraplane_blob_store_bytes") != std::string::npos);
  BOOST_TEST(res.body.find("loraplane_distribute_stored_total{outcome=\"copied\"}") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(too_many_blob_responses_answer_503) {
  Fixture f;
  auto options = Fixture::default_options();
  options.max_blob_responses = 0;
  f.start_worker(options);
  auto res = f.get(Fixture::blob_target(std::string(64, 'b')));
  BOOST_TEST(res.status == 503);
  BOOST_TEST(res.headers["retry-after"] == "1");
}

BOOST_AUTO_TEST_SUITE_END()
