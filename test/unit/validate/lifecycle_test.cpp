// After validation: stored → ready, delete, redelivered jobs, import and poison messages.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <future>
#include <utility>

#include "common/kafka.hpp"
#include "test/unit/validate/adapters.hpp"
#include "test/unit/validate/harness.hpp"

using namespace loraplane;
using namespace loraplane::validate::testing;
using schema::AdapterStatus;

namespace {

struct Validated {
  std::string tenant;
  Sent sent;
  schema::AdapterState state;
};

Validated validated_adapter(const std::string& name) {
  auto& h = Harness::get();
  Validated v;
  v.tenant = unique_id("ten_");
  h.put_tenant(v.tenant, schema::Tier::reserved);
  UploadSpec spec;
  spec.bytes = file_of(toy_tensors(16));
  v.sent = h.upload(v.tenant, name, spec);
  v.state = h.wait_state(v.sent.adapter_id, [](const auto& s) {
    return s.validated || s.adapter.status == AdapterStatus::failed;
  });
  BOOST_TEST_REQUIRE(v.state.validated);
  return v;
}

schema::Job stored_job(const Validated& v, const std::string& node, const std::string& url) {
  auto job = Harness::get().job_for(v.sent, schema::JobKind::stored);
  job.stored = schema::JobStored{node, url};
  return job;
}

// validated_adapter(), then stored on one node: ready. Returns its ready record.
schema::AdapterState ready_adapter(const Validated& v) {
  auto& h = Harness::get();
  h.send_job(stored_job(v, "node-1", "http://127.0.0.1:7001/blobs/" + v.state.adapter.sha256));
  return h.wait_status(v.sent.adapter_id, AdapterStatus::ready);
}

// A new tenant, deleted at once, and an upload for it (which the worker deletes, not admits).
std::pair<std::string, Sent> upload_for_deleted_tenant(const std::string& name) {
  auto& h = Harness::get();
  const auto tenant = unique_id("ten_");
  h.put_tenant(tenant, schema::Tier::reserved, /*deleted=*/true);
  UploadSpec spec;
  spec.bytes = file_of(toy_tensors(16));
  return {tenant, h.upload(tenant, name, spec)};
}

// Jobs of one tenant are handled in order: once a later import job's adapter has failed, every
// earlier job of that tenant has been handled.
void wait_for_earlier_jobs(const std::string& tenant) {
  auto& h = Harness::get();
  auto marker = h.import(tenant, unique_id("marker-"));
  h.wait_status(marker.adapter_id, AdapterStatus::failed);
}

// The record a delete of `ready` leaves when a kill -9 or a Kafka error stops it right after
// writing `deleting`.
schema::AdapterState cut_short(schema::AdapterState ready) {
  ready.adapter.status = AdapterStatus::deleting;
  ++ready.seq;
  return ready;
}

// The end of a ready adapter's delete: its tombstone, and adapter.deleted after adapter.ready.
void expect_deleted_after_ready(const std::string& adapter_id) {
  auto& h = Harness::get();
  BOOST_TEST(h.wait_tombstone(adapter_id));
  auto events = h.wait_events(adapter_id, 2);
  BOOST_REQUIRE(events.size() == 2u);
  BOOST_TEST((events[1].event == schema::LoadEventKind::adapter_deleted));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lifecycle, *boost::unit_test::precondition(ClusterGiven()))

BOOST_AUTO_TEST_CASE(a_redelivered_upload_job_changes_nothing) {
  auto& h = Harness::get();
  auto v = validated_adapter("redelivered");
  const auto before = h.history(v.sent.adapter_id);
  h.send_job(v.sent.job);  // the very same job again, as after a crash before the commit
  wait_for_earlier_jobs(v.tenant);
  const auto after = h.history(v.sent.adapter_id);
  BOOST_TEST(after.size() == before.size());
  BOOST_TEST(h.wait_state(v.sent.adapter_id, [](const auto&) { return true; }).seq == v.state.seq);
}

BOOST_AUTO_TEST_CASE(stored_makes_it_ready_and_announces_it_once) {
  auto& h = Harness::get();
  auto v = validated_adapter("stored");
  const std::string url1 = "http://127.0.0.1:7001/blobs/" + v.state.adapter.sha256;
  const std::string url2 = "http://127.0.0.1:7002/blobs/" + v.state.adapter.sha256;
  h.send_job(stored_job(v, "node-1", url1));
  auto ready = h.wait_status(v.sent.adapter_id, AdapterStatus::ready);
  BOOST_TEST(ready.storage_urls == std::vector<std::string>{url1},
             boost::test_tools::per_element());
  BOOST_TEST(ready.validated);
  BOOST_TEST((ready.adapter_config == v.state.adapter_config));

  auto events = h.wait_events(v.sent.adapter_id, 1);
  BOOST_REQUIRE(events.size() == 1u);
  const auto& e = events[0];
  BOOST_TEST((e.event == schema::LoadEventKind::adapter_ready));
  BOOST_TEST(e.tenant_id == v.tenant);
  BOOST_TEST(e.base_model == "toy-llama");
  BOOST_TEST(e.sha256 == v.state.adapter.sha256);
  BOOST_TEST(e.size_bytes == v.state.adapter.size_bytes);
  BOOST_TEST(e.rank == 16);
  BOOST_TEST(e.storage_urls == std::vector<std::string>{url1}, boost::test_tools::per_element());
  BOOST_TEST((e.adapter_config == v.state.adapter_config));

  // A second node only adds its url, first (agents start with the newest report); a repeat of
  // the first report changes nothing.
  h.send_job(stored_job(v, "node-2", url2));
  h.send_job(stored_job(v, "node-1", url1));
  wait_for_earlier_jobs(v.tenant);
  auto merged = h.wait_state(v.sent.adapter_id, [](const auto&) { return true; });
  BOOST_TEST((merged.adapter.status == AdapterStatus::ready));
  BOOST_TEST(merged.storage_urls == (std::vector<std::string>{url2, url1}),
             boost::test_tools::per_element());
  BOOST_TEST(merged.seq == ready.seq + 1);
  BOOST_TEST(h.events(v.sent.adapter_id).size() == 1u);
}

// A node that comes back on new ports reports each time: its newest url is tried first, and
// the addresses it left do not pile up without bound.
BOOST_AUTO_TEST_CASE(a_node_on_a_new_port_is_tried_first_and_old_urls_are_bounded) {
  auto& h = Harness::get();
  auto v = validated_adapter("moving-node");
  auto url = [&](int port) {
    return "http://127.0.0.1:" + std::to_string(port) + "/blobs/" + v.state.adapter.sha256;
  };
  h.send_job(stored_job(v, "node-1", url(7000)));
  h.wait_status(v.sent.adapter_id, AdapterStatus::ready);
  for (int port = 7001; port <= 7020; ++port) h.send_job(stored_job(v, "node-1", url(port)));
  const auto newest = url(7020);
  auto moved = h.wait_state(v.sent.adapter_id, [&newest](const schema::AdapterState& s) {
    return !s.storage_urls.empty() && s.storage_urls.front() == newest;
  });
  BOOST_TEST(moved.storage_urls.size() == 16u);
  const bool kept_oldest =
      std::find(moved.storage_urls.begin(), moved.storage_urls.end(), url(7000)) !=
      moved.storage_urls.end();
  BOOST_TEST(!kept_oldest, "the oldest url was not dropped");
}

BOOST_AUTO_TEST_CASE(stored_for_a_failed_adapter_is_ignored) {
  auto& h = Harness::get();
  const auto tenant = unique_id("ten_");
  h.put_tenant(tenant, schema::Tier::shared);
  UploadSpec spec;
  spec.bytes = file_of(toy_tensors(128));
  auto sent = h.upload(tenant, "failed-then-stored", spec);
  auto failed = h.wait_status(sent.adapter_id, AdapterStatus::failed);
  auto job = h.job_for(sent, schema::JobKind::stored);
  job.stored = schema::JobStored{"node-1", "http://127.0.0.1:7001/blobs/x"};
  h.send_job(job);
  wait_for_earlier_jobs(tenant);
  auto after = h.wait_state(sent.adapter_id, [](const auto&) { return true; });
  BOOST_TEST(after.seq == failed.seq);
  BOOST_TEST(h.events(sent.adapter_id).empty());
}

BOOST_AUTO_TEST_CASE(delete_writes_deleting_announces_and_tombstones_then_frees_the_name) {
  auto& h = Harness::get();
  auto v = validated_adapter("to-delete");
  h.send_job(stored_job(v, "node-1", "http://127.0.0.1:7001/blobs/" + v.state.adapter.sha256));
  h.wait_status(v.sent.adapter_id, AdapterStatus::ready);
  h.send_job(h.job_for(v.sent, schema::JobKind::remove));
  auto deleting = h.wait_status(v.sent.adapter_id, AdapterStatus::deleting);
  BOOST_TEST(deleting.adapter.name == "to-delete");
  BOOST_TEST(h.wait_tombstone(v.sent.adapter_id));
  auto events = h.wait_events(v.sent.adapter_id, 2);
  BOOST_TEST((events.back().event == schema::LoadEventKind::adapter_deleted));
  BOOST_TEST(events.back().sha256 == v.state.adapter.sha256);

  // A redelivered delete of a tombstoned adapter does nothing.
  h.send_job(h.job_for(v.sent, schema::JobKind::remove));
  UploadSpec spec;
  spec.bytes = file_of(toy_tensors(8));
  auto again = h.upload(v.tenant, "to-delete", spec);
  auto s = h.wait_state(again.adapter_id, [](const auto& st) {
    return st.validated || st.adapter.status == AdapterStatus::failed;
  });
  BOOST_TEST(s.validated);
  BOOST_TEST(h.events(v.sent.adapter_id).size() == 2u);
}

// Deleting a tenant queues deletes for the adapters the deleting gateway knows; an upload that
// another gateway accepted meanwhile must not become a ready adapter nobody can reach.
BOOST_AUTO_TEST_CASE(an_upload_for_a_deleted_tenant_is_deleted_not_admitted) {
  auto& h = Harness::get();
  const auto [tenant, sent] = upload_for_deleted_tenant("after-delete");
  BOOST_TEST(h.wait_tombstone(sent.adapter_id));
  const auto history = h.history(sent.adapter_id);
  BOOST_REQUIRE(!history.empty());
  BOOST_TEST((history.back().adapter.status == AdapterStatus::deleting));
  for (const auto& s : history) {
    BOOST_TEST((s.adapter.status != AdapterStatus::validating));
    BOOST_TEST(!s.validated);
  }
}

// The stored job is already queued when the worker learns of the deletion, ahead of the delete
// job its sweep queues: the stored job itself must not make the adapter ready.
BOOST_AUTO_TEST_CASE(stored_after_the_tenant_was_deleted_deletes_instead_of_ready) {
  auto& h = Harness::get();
  auto v = validated_adapter("stored-after-delete");
  h.restart_worker([&] {
    h.put_tenant(v.tenant, schema::Tier::reserved, /*deleted=*/true);
    h.send_job(stored_job(v, "node-1", "http://127.0.0.1:7001/blobs/" + v.state.adapter.sha256));
  });
  BOOST_TEST(h.wait_tombstone(v.sent.adapter_id));
  for (const auto& s : h.history(v.sent.adapter_id))
    BOOST_TEST((s.adapter.status != AdapterStatus::ready));
  for (const auto& e : h.events(v.sent.adapter_id))
    BOOST_TEST((e.event != schema::LoadEventKind::adapter_ready));
}

// A ready adapter the deleting gateway did not know of (another gateway accepted it, or its view
// of the adapters lagged): the worker that reads the tenant's deletion deletes it, with no
// delete job from any gateway.
BOOST_AUTO_TEST_CASE(the_worker_deletes_what_is_left_of_a_deleted_tenant) {
  auto& h = Harness::get();
  auto v = validated_adapter("left-behind");
  ready_adapter(v);
  h.put_tenant(v.tenant, schema::Tier::reserved, /*deleted=*/true);
  expect_deleted_after_ready(v.sent.adapter_id);
  BOOST_TEST((h.history(v.sent.adapter_id).back().adapter.status == AdapterStatus::deleting));
}

// A deletion written while no worker ran (or while its reader was down) is swept when the next
// worker starts, not only when one reads it live.
BOOST_AUTO_TEST_CASE(a_starting_worker_sweeps_tenants_deleted_while_none_ran) {
  auto& h = Harness::get();
  auto v = validated_adapter("deleted-while-down");
  ready_adapter(v);
  // An adapter of another tenant, ready too, must be left alone.
  auto other = validated_adapter("neighbour");
  const auto other_ready = ready_adapter(other);
  h.restart_worker([&] { h.put_tenant(v.tenant, schema::Tier::reserved, /*deleted=*/true); });
  BOOST_TEST(h.wait_tombstone(v.sent.adapter_id));
  wait_for_earlier_jobs(other.tenant);
  const auto other_now = h.wait_state(other.sent.adapter_id, [](const auto&) { return true; });
  BOOST_TEST((other_now.adapter.status == AdapterStatus::ready));
  BOOST_TEST(other_now.seq == other_ready.seq);
}

// A worker that takes a tenant's partition over (its owner died) can read the tenant's deletion
// before its adapters reader reaches an adapter the old owner made ready, so the sweep on the
// deletion misses it. The adapter is deleted when it shows up.
BOOST_AUTO_TEST_CASE(an_adapter_that_shows_up_after_its_tenant_was_swept_is_deleted) {
  auto& h = Harness::get();
  auto v = validated_adapter("template");
  const auto ready = ready_adapter(v);
  // The worker has read the deletion (and swept, finding nothing) once it deletes the upload.
  const auto [tenant, probe] = upload_for_deleted_tenant("probe");
  BOOST_TEST_REQUIRE(h.wait_tombstone(probe.adapter_id));
  auto late = ready;  // the old owner's record of a ready adapter of the deleted tenant
  late.tenant_id = tenant;
  late.adapter.id = unique_id("adp_");
  late.adapter.name = "shows-up-late";
  h.put_state(late);
  BOOST_TEST(h.wait_tombstone(late.adapter.id));
  BOOST_TEST((h.history(late.adapter.id).back().adapter.status == AdapterStatus::deleting));
  auto events = h.wait_events(late.adapter.id, 1);
  BOOST_REQUIRE(events.size() == 1u);
  BOOST_TEST((events[0].event == schema::LoadEventKind::adapter_deleted));
  // The adapter it was copied from, of a live tenant, is left alone.
  wait_for_earlier_jobs(v.tenant);
  BOOST_TEST(h.wait_state(v.sent.adapter_id, [](const auto&) { return true; }).seq == ready.seq);
}

// What a delete leaves when a kill -9 or a Kafka error stops it right after `deleting`: the
// record, with no adapter.deleted and no tombstone. A later job of the adapter (here the upload
// job, redelivered) finishes the delete instead of skipping an adapter that is not in progress.
BOOST_AUTO_TEST_CASE(a_job_finding_a_delete_cut_short_finishes_it) {
  auto& h = Harness::get();
  auto v = validated_adapter("cut-short");
  const auto deleting = cut_short(ready_adapter(v));
  h.put_state(deleting);
  h.wait_state(v.sent.adapter_id, [&](const auto& s) { return s.seq == deleting.seq; });
  // The worker's own reader may apply the record a moment after this test's reader did: a job
  // handled before that finds the adapter ready and skips, so the job comes again (as a
  // redelivery would) until one has found it deleting.
  for (int i = 0; i < 10 && !h.tombstoned(v.sent.adapter_id); ++i) {
    h.send_job(v.sent.job);
    wait_for_earlier_jobs(v.tenant);
  }
  expect_deleted_after_ready(v.sent.adapter_id);
}

// The same record with no job of the adapter left to come: a worker finishes it when it starts.
BOOST_AUTO_TEST_CASE(a_starting_worker_finishes_deletes_cut_short) {
  auto& h = Harness::get();
  auto v = validated_adapter("cut-short-idle");
  const auto deleting = cut_short(ready_adapter(v));
  h.restart_worker([&] { h.put_state(deleting); });
  expect_deleted_after_ready(v.sent.adapter_id);
}

// The suite's HF_ENDPOINT is a closed loopback port (see CMakeLists.txt).
BOOST_AUTO_TEST_CASE(import_fails_clearly_when_the_hub_is_unreachable) {
  auto& h = Harness::get();
  const auto tenant = unique_id("ten_");
  h.put_tenant(tenant, schema::Tier::shared);
  auto sent = h.import(tenant, "from-hub");
  auto s = h.wait_status(sent.adapter_id, AdapterStatus::failed);
  BOOST_REQUIRE(s.adapter.error.has_value());
  BOOST_TEST(s.adapter.error->code == "hub_unavailable");
  BOOST_TEST(s.adapter.error->message.find("127.0.0.1:9") != std::string::npos, s.adapter.error->message);
}

BOOST_AUTO_TEST_CASE(a_new_job_whose_record_never_comes_is_dropped) {
  // Its gateway died between the job and the pending record (the client got no 202).
  auto& h = Harness::get();
  const auto tenant = unique_id("ten_");
  h.put_tenant(tenant, schema::Tier::shared);
  schema::Job orphan;
  orphan.job_id = unique_id("job_");
  orphan.kind = schema::JobKind::import;
  orphan.tenant_id = tenant;
  orphan.adapter_id = unique_id("adp_");
  orphan.name = "orphan";
  orphan.base_model = "toy-llama";
  orphan.created_at = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  orphan.hf_import = schema::JobImport{"someone/orphan", "main", std::nullopt};
  h.send_job(orphan);
  // The tenant's next job is handled once the orphan is dropped; the orphan never appears.
  wait_for_earlier_jobs(tenant);
  BOOST_TEST(h.history(orphan.adapter_id).empty());
}

BOOST_AUTO_TEST_CASE(a_malformed_job_does_not_block_the_tenant) {
  auto& h = Harness::get();
  const auto tenant = unique_id("ten_");
  h.put_tenant(tenant, schema::Tier::shared);
  auto producer = kafka::Producer::create(h.cluster(), {});
  std::promise<Status> done;
  producer->produce(kafka::kJobs, tenant, std::string_view("{not a job"), {},
                    [&done](const Status& st) { done.set_value(st); });
  BOOST_TEST_REQUIRE(done.get_future().get().ok());
  wait_for_earlier_jobs(tenant);
}

BOOST_AUTO_TEST_SUITE_END()
