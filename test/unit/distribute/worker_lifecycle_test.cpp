// The worker through an adapter's life: release on delete, restart without repeated work,
// references of vanished adapters dropped, corrupt uploads given up, unreferenced blobs
// collected.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

#include "common/sha256.hpp"
#include "test/unit/distribute/distribute_fixture.hpp"
#include "workers/distribute/ref_index.hpp"

using namespace loraplane;
using namespace loraplane::distribute;
using namespace loraplane::distribute::test;

namespace {

constexpr std::size_t kSize = 1024 * 1024 + 4321;

Upload store_one(Fixture& f, const std::string& adapter_id, std::uint64_t seed) {
  auto upload = f.produce_upload("upl_" + adapter_id, make_bytes(kSize, seed));
  f.produce_state(Fixture::validated_state(adapter_id, upload, 3));
  BOOST_REQUIRE(Fixture::wait_for([&] { return !f.stored_jobs(adapter_id).empty(); }));
  return upload;
}

// Writes a blob straight into the store, as a copy that died before its reference would.
void put_blob(storage::Db& db, const std::string& bytes) {
  auto writer = db.blobs().begin_write(sha256_hex(bytes), bytes.size());
  BOOST_TEST_REQUIRE(writer.ok());
  BOOST_TEST_REQUIRE((*writer)->append(bytes).ok());
  BOOST_TEST_REQUIRE((*writer)->commit().ok());
}

// A blob store whose collect_garbage() stays inside until released: a GC that takes as long
// as the test wants.
class GcGate {
 public:
  // Stays until released, or until `stop` (the caller's stop request) is set.
  void enter(const std::atomic<bool>* stop) {
    std::unique_lock lock(mu_);
    entered_ = true;
    inside_ = true;
    cv_.notify_all();
    while (!released_) {
      if (stop != nullptr && stop->load()) {
        stopped_ = true;
        break;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(10));
    }
    inside_ = false;
  }
  bool wait_entered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [this] { return entered_; });
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  bool inside() {
    std::lock_guard lock(mu_);
    return inside_;
  }
  // The GC held here left because its caller asked it to stop.
  bool stopped() {
    std::lock_guard lock(mu_);
    return stopped_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool inside_ = false;
  bool released_ = false;
  bool stopped_ = false;
};

class GatedBlobs final : public storage::BlobStore {
 public:
  GatedBlobs(storage::BlobStore& inner, GcGate& gate) : inner_(inner), gate_(gate) {}
  Result<std::unique_ptr<storage::BlobWriter>> begin_write(std::string_view sha,
                                                           std::uint64_t size) override {
    return inner_.begin_write(sha, size);
  }
  std::optional<storage::BlobInfo> stat(std::string_view sha) override { return inner_.stat(sha); }
  Status read(std::string_view sha, std::uint64_t offset, std::uint64_t length,
              const std::function<Status(std::string_view)>& sink) override {
    return inner_.read(sha, offset, length, sink);
  }
  Result<std::unique_ptr<storage::PinnedBytes>> read_pinned(std::string_view sha,
                                                            std::uint64_t offset,
                                                            std::uint64_t length) override {
    return inner_.read_pinned(sha, offset, length);
  }
  Status add_ref(std::string_view sha, std::string_view owner) override {
    return inner_.add_ref(sha, owner);
  }
  Status remove_ref(std::string_view sha, std::string_view owner) override {
    return inner_.remove_ref(sha, owner);
  }
  std::uint64_t ref_count(std::string_view sha) override { return inner_.ref_count(sha); }
  Result<std::uint64_t> collect_garbage(std::int64_t min_age_seconds,
                                        std::atomic<bool>* stop) override {
    gate_.enter(stop);
    return inner_.collect_garbage(min_age_seconds, stop);
  }
  std::uint64_t total_bytes() override { return inner_.total_bytes(); }

 private:
  storage::BlobStore& inner_;
  GcGate& gate_;
};

class GatedDb final : public storage::Db {
 public:
  GatedDb(std::unique_ptr<storage::Db> inner, GcGate& gate)
      : inner_(std::move(inner)), blobs_(inner_->blobs(), gate) {}
  Result<std::optional<std::string>> get(storage::Table table, std::string_view key) override {
    return inner_->get(table, key);
  }
  Status put(storage::Table table, std::string_view key, std::string_view value) override {
    return inner_->put(table, key, value);
  }
  Status del(storage::Table table, std::string_view key) override {
    return inner_->del(table, key);
  }
  Status write(const storage::MetaBatch& batch) override { return inner_->write(batch); }
  Status scan(storage::Table table, std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& visit) override {
    return inner_->scan(table, prefix, visit);
  }
  storage::BlobStore& blobs() override { return blobs_; }

 private:
  std::unique_ptr<storage::Db> inner_;
  GatedBlobs blobs_;
};

// Opens the gate when the test ends, pass or fail, so that the worker's GC thread can leave.
struct GateRelease {
  GcGate& gate;
  ~GateRelease() { gate.release(); }
};

// Starts the worker on a store whose GC stays in `gate` (a GC every second), once it is in.
void start_with_gated_gc(Fixture& f, GcGate& gate) {
  f.wrap_db([&gate](std::unique_ptr<storage::Db> db) -> std::unique_ptr<storage::Db> {
    return std::make_unique<GatedDb>(std::move(db), gate);
  });
  auto options = Fixture::default_options();
  options.gc_interval = std::chrono::seconds(1);
  f.start_worker(options);
  BOOST_TEST_REQUIRE(gate.wait_entered());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(worker_lifecycle)

BOOST_AUTO_TEST_CASE(deleting_releases_the_blob) {
  Fixture f;
  f.start_worker();
  auto upload = store_one(f, "adp_del1", 11);
  const auto target = Fixture::blob_target(upload.sha256);
  BOOST_TEST(f.get(target).status == 200);

  auto deleting = Fixture::validated_state("adp_del1", upload, 5);
  deleting.adapter.status = schema::AdapterStatus::deleting;
  f.produce_state(deleting);
  BOOST_TEST(Fixture::wait_for([&] { return f.head(target).status == 404; }));
  BOOST_TEST(f.db().blobs().ref_count(upload.sha256) == 0u);
  BOOST_TEST(!f.db().blobs().stat(upload.sha256).has_value());
  // The reference goes before the worker counts it (and the blob with the reference).
  BOOST_TEST(Fixture::wait_for([&] { return f.worker().stats().removed == 1u; }));
  f.produce_tombstone("adp_del1");  // nothing left to release
  BOOST_TEST(f.stored_jobs("adp_del1").size() == 1u);
}

BOOST_AUTO_TEST_CASE(two_adapters_share_a_blob_until_both_are_gone) {
  Fixture f;
  f.start_worker();
  auto upload = store_one(f, "adp_share1", 12);
  f.produce_state(Fixture::validated_state("adp_share2", upload, 3));
  BOOST_REQUIRE(Fixture::wait_for([&] { return !f.stored_jobs("adp_share2").empty(); }));
  BOOST_TEST(f.db().blobs().ref_count(upload.sha256) == 2u);
  BOOST_TEST(f.worker().stats().copied == 1u);
  BOOST_TEST(f.worker().stats().reused == 1u);

  f.produce_tombstone("adp_share1");
  BOOST_TEST(Fixture::wait_for([&] { return f.db().blobs().ref_count(upload.sha256) == 1u; }));
  BOOST_TEST(f.get(Fixture::blob_target(upload.sha256)).status == 200);
  f.produce_tombstone("adp_share2");
  BOOST_TEST(
      Fixture::wait_for([&] { return f.head(Fixture::blob_target(upload.sha256)).status == 404; }));
}

BOOST_AUTO_TEST_CASE(restart_repeats_no_work_and_drops_refs_of_vanished_adapters) {
  Fixture f;
  auto options = Fixture::default_options();
  options.advertised_url = "http://storage-a.example:7301/";
  auto& first = f.start_worker(options);
  auto kept = store_one(f, "adp_keep1", 21);
  auto gone = store_one(f, "adp_gone1", 22);
  const std::string url = "http://storage-a.example:7301/internal/v1/blobs/" + kept.sha256;
  BOOST_TEST(f.stored_jobs("adp_keep1").front().stored->blob_url == url);
  BOOST_TEST(Fixture::wait_for([&] { return first.stats().reported == 2u; }));
  auto ready = Fixture::validated_state("adp_keep1", kept, 4);  // as the validate worker writes
  ready.adapter.status = schema::AdapterStatus::ready;
  ready.storage_urls = {url};
  f.produce_state(ready);
  f.stop_worker();

  // While the node is down: one adapter is deleted, and the Db holds a reference for an
  // adapter whose records were compacted away entirely.
  auto deleting = Fixture::validated_state("adp_gone1", gone, 5);
  deleting.adapter.status = schema::AdapterStatus::deleting;
  f.produce_state(deleting);
  const auto ghost_bytes = make_bytes(5000, 23);
  const auto ghost_sha = sha256_hex(ghost_bytes);
  put_blob(f.db(), ghost_bytes);
  BOOST_TEST_REQUIRE(f.db().blobs().add_ref(ghost_sha, "adp_ghost1").ok());
  BOOST_TEST_REQUIRE(
      f.db().put(storage::Table::meta, std::string(kRefKeyPrefix) + "adp_ghost1", ghost_sha).ok());

  auto& second = f.start_worker(options);  // ready: caught up and reconciled once
  auto stats = second.stats();
  BOOST_TEST(stats.copied == 0u);
  BOOST_TEST(stats.reported == 0u);
  BOOST_TEST(stats.removed == 2u);
  BOOST_TEST(f.stored_jobs("adp_keep1").size() == 1u);
  auto res = f.get(Fixture::blob_target(kept.sha256));
  BOOST_TEST(res.status == 200);
  BOOST_TEST((res.body == kept.bytes));
  BOOST_TEST(f.db().blobs().ref_count(kept.sha256) == 1u);
  BOOST_TEST(f.get(Fixture::blob_target(gone.sha256)).status == 404);
  BOOST_TEST(f.get(Fixture::blob_target(ghost_sha)).status == 404);
  auto meta = f.db().get(storage::Table::meta, std::string(kRefKeyPrefix) + "adp_ghost1");
  BOOST_TEST_REQUIRE(meta.ok());
  BOOST_TEST(!meta->has_value());
}

// A storage node that joins after an upload's chunks left loraplane.uploads (kept a day), or
// that lost its disk, cannot copy from the upload: it copies the blob from a node that holds it
// (the adapter's storage urls), then serves it and reports it like any other. A node whose
// only peer does not hold the blob gives up, as it has nowhere to copy from.
BOOST_AUTO_TEST_CASE(a_node_that_missed_the_upload_copies_the_blob_from_another_node) {
  Fixture f;
  auto& first = f.start_worker();
  auto upload = store_one(f, "adp_peer1", 51);
  auto ready = Fixture::validated_state("adp_peer1", upload, 4);
  ready.adapter.status = schema::AdapterStatus::ready;
  ready.storage_urls = {first.blob_url(upload.sha256)};
  ready.upload_location->first_offset += 1'000'000;  // no longer in the log
  ready.upload_location->last_offset += 1'000'000;
  f.produce_state(ready);
  auto lost = ready;  // an adapter no node holds: its only url answers 404
  lost.adapter.id = "adp_peer2";
  lost.adapter.sha256 = sha256_hex("bytes nobody stored");
  f.produce_state(lost);

  loraplane::test::TempDir dir;
  storage::DbOptions db_options;
  db_options.blobs.chunk_size = kBlobChunk;
  db_options.blobs.allow_tiny_chunks_for_tests = true;
  auto db = storage::Db::open(dir.path() + "/db", db_options);
  BOOST_TEST_REQUIRE(db.ok());
  auto options = Fixture::default_options();
  options.node_id = "node-b";
  {
    DistributeWorker second(f.io(), f.cluster(), **db, options);
    second.start();
    BOOST_TEST_REQUIRE(Fixture::wait_for([&] { return second.ready(); }));
    BOOST_TEST(second.stats().copied == 1u);
    BOOST_TEST(second.stats().gave_up == 1u);  // adp_peer2
    auto stat = (*db)->blobs().stat(upload.sha256);
    BOOST_TEST_REQUIRE(stat.has_value());
    BOOST_TEST(stat->size == upload.bytes.size());
    BOOST_TEST(Fixture::wait_for([&] {
      for (const auto& job : f.stored_jobs("adp_peer1"))
        if (job.stored->node_id == "node-b") return true;
      return false;
    }));
    auto res = loraplane::test::http_request(second.port(), "GET",
                                             Fixture::blob_target(upload.sha256));
    BOOST_TEST(res.status == 200);
    BOOST_TEST((res.body == upload.bytes));
  }
  db->reset();
}

BOOST_AUTO_TEST_CASE(corrupt_upload_is_given_up_until_a_newer_record) {
  Fixture f;
  auto& worker = f.start_worker();
  auto upload = f.produce_upload("upl_bad1", make_bytes(kSize, 31));
  auto wrong = Fixture::validated_state("adp_bad1", upload, 3);
  wrong.adapter.sha256 = sha256_hex("other bytes");
  f.produce_state(wrong);
  BOOST_TEST_REQUIRE(Fixture::wait_for([&] { return worker.stats().gave_up == 1u; }));
  BOOST_TEST(f.stored_jobs("adp_bad1").empty());
  BOOST_TEST(f.get(Fixture::blob_target(wrong.adapter.sha256)).status == 404);
  BOOST_TEST(f.get(Fixture::blob_target(upload.sha256)).status == 404);

  f.produce_state(Fixture::validated_state("adp_bad1", upload, 4));
  BOOST_TEST(Fixture::wait_for([&] { return !f.stored_jobs("adp_bad1").empty(); }));
  BOOST_TEST(f.get(Fixture::blob_target(upload.sha256)).status == 200);
}

// An upload's bytes are copied while the validate worker checks them (the `validating` record
// carries where they are), and reported only once validation passed; an upload that fails
// validation leaves nothing behind.
BOOST_AUTO_TEST_CASE(an_upload_is_copied_while_it_is_validated_and_reported_after) {
  Fixture f;
  auto& worker = f.start_worker();
  auto good = f.produce_upload("upl_early1", make_bytes(kSize, 35));
  auto validating = Fixture::validated_state("adp_early1", good, 2);
  validating.validated = false;  // as admitted: the gateway's sha256, size and chunks
  f.produce_state(validating);
  BOOST_TEST_REQUIRE(Fixture::wait_for([&] { return worker.stats().copied == 1u; }));
  BOOST_TEST(f.db().blobs().ref_count(good.sha256) == 1u);
  auto res = f.get(Fixture::blob_target(good.sha256));
  BOOST_TEST(res.status == 200);
  BOOST_TEST((res.body == good.bytes));
  BOOST_TEST(f.stored_jobs("adp_early1").empty());  // not validated: nothing reported

  f.produce_state(Fixture::validated_state("adp_early1", good, 3));
  BOOST_TEST_REQUIRE(Fixture::wait_for([&] { return !f.stored_jobs("adp_early1").empty(); }));
  BOOST_TEST(worker.stats().copied == 1u);  // the validated record copied nothing again
  BOOST_TEST(f.db().blobs().ref_count(good.sha256) == 1u);

  auto bad = f.produce_upload("upl_early2", make_bytes(kSize, 36));
  auto invalid = Fixture::validated_state("adp_early2", bad, 2);
  invalid.validated = false;
  f.produce_state(invalid);
  BOOST_TEST_REQUIRE(Fixture::wait_for([&] { return worker.stats().copied == 2u; }));
  invalid.adapter.status = schema::AdapterStatus::failed;
  invalid.seq = 3;
  f.produce_state(invalid);
  BOOST_TEST(Fixture::wait_for(
      [&] { return f.head(Fixture::blob_target(bad.sha256)).status == 404; }));
  BOOST_TEST(!f.db().blobs().stat(bad.sha256).has_value());
  BOOST_TEST(f.stored_jobs("adp_early2").empty());
  BOOST_TEST(f.get(Fixture::blob_target(good.sha256)).status == 200);
}

BOOST_AUTO_TEST_CASE(gc_collects_unreferenced_blobs) {
  Fixture f;
  const auto orphan = make_bytes(3000, 41);
  put_blob(f.db(), orphan);
  auto options = Fixture::default_options();
  options.gc_interval = std::chrono::seconds(1);
  options.gc_min_age_seconds = 0;
  f.start_worker(options);
  auto kept = store_one(f, "adp_gc1", 42);
  BOOST_TEST(Fixture::wait_for(
      [&] { return f.head(Fixture::blob_target(sha256_hex(orphan))).status == 404; }));
  BOOST_TEST(f.get(Fixture::blob_target(kept.sha256)).status == 200);
}

// A GC can take long (its compactions rewrite live chunks); an adapter validated meanwhile is
// still stored and reported at once, not after the GC.
BOOST_AUTO_TEST_CASE(a_long_gc_does_not_hold_up_storing) {
  GcGate gate;  // outlives the worker, whose GC thread is in it
  Fixture f;
  GateRelease release{gate};  // before the fixture stops the worker, even on failure
  start_with_gated_gc(f, gate);
  auto upload = f.produce_upload("upl_adp_during_gc", make_bytes(kSize, 43));
  f.produce_state(Fixture::validated_state("adp_during_gc", upload, 3));
  BOOST_TEST(Fixture::wait_for([&] { return !f.stored_jobs("adp_during_gc").empty(); },
                               std::chrono::seconds(45)));
  BOOST_TEST(gate.inside());  // the GC is still under way
  BOOST_TEST(f.get(Fixture::blob_target(upload.sha256)).status == 200);
}

// Stopping the node does not wait for a GC under way (a relocation of a large store can take
// minutes): the GC is asked to stop.
BOOST_AUTO_TEST_CASE(stopping_cuts_a_gc_under_way_short) {
  GcGate gate;  // outlives the worker, whose GC thread is in it
  Fixture f;
  std::future<void> stopping;  // destroyed after `release` has opened the gate
  GateRelease release{gate};
  start_with_gated_gc(f, gate);
  stopping = std::async(std::launch::async, [&f] { f.stop_worker(); });
  BOOST_TEST((stopping.wait_for(std::chrono::seconds(60)) == std::future_status::ready));
  BOOST_TEST(gate.stopped());
}

BOOST_AUTO_TEST_SUITE_END()
