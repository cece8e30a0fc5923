// The agent's disk after a crash: the weights are installed before they are written out (the
// engine loads from the page cache), so a dir without the `.synced` marker is trusted only when
// its weights match the catalog's size and sha256.
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <atomic>
#include <fstream>
#include <thread>

#include "common/sha256.hpp"
#include "test/support/process.hpp"
#include "workers/agent/adapter_disk.hpp"

namespace loraplane::agent::test {

namespace fs = std::filesystem;

namespace {

struct DiskFixture {
  loraplane::test::TempDir dir;
  AdapterDisk disk{dir.path()};
  DiskFixture() { BOOST_REQUIRE(disk.prepare()); }

  // A known adapter (catalog entry for `bytes`) installed with `on_disk` as its weights.
  void install(const std::string& id, const std::string& bytes, const std::string& on_disk) {
    schema::LoadEvent event;
    event.event = schema::LoadEventKind::adapter_ready;
    event.adapter_id = id;
    event.tenant_id = "ten_test";
    event.base_model = "toy-llama";
    event.sha256 = sha256_hex(bytes);
    event.size_bytes = bytes.size();
    event.rank = 8;
    event.at = 1'717'000'000;
    BOOST_REQUIRE(disk.remember(event));
    auto temp = disk.temp_dir(id);
    BOOST_REQUIRE(temp);
    std::ofstream(*temp / std::string(kWeightsFile), std::ios::binary) << on_disk;
    BOOST_REQUIRE(disk.install(*temp, id, R"({"r":8})"));
  }
  bool synced(const std::string& id) const {
    return fs::exists(fs::path(disk.adapter_dir(id)) / std::string(kSyncedMarker));
  }
};

const std::string kWeights(3000, 'w');

}  // namespace

BOOST_FIXTURE_TEST_SUITE(agent_disk, DiskFixture)

BOOST_AUTO_TEST_CASE(installed_weights_are_not_durable_until_made_so) {
  install("adp_a", kWeights, kWeights);
  BOOST_TEST(!synced("adp_a"));
  BOOST_TEST(disk.make_durable("adp_a").ok());
  BOOST_TEST(synced("adp_a"));
  BOOST_TEST(disk.make_durable("adp_gone").ok());  // removed meanwhile: nothing to do
}

// The load-events consumer and the adapters-table reader both write catalog entries, from
// their own threads, sometimes for the same adapter at the same moment: every write succeeds,
// and the entry left is whole.
BOOST_AUTO_TEST_CASE(concurrent_catalog_writes_of_one_adapter_all_succeed) {
  schema::LoadEvent event;
  event.event = schema::LoadEventKind::adapter_ready;
  event.adapter_id = "adp_twice";
  event.tenant_id = "ten_test";
  event.base_model = "toy-llama";
  event.sha256 = sha256_hex(kWeights);
  event.size_bytes = kWeights.size();
  event.rank = 8;
  std::atomic<int> failures{0};
  auto writer = [&] {
    for (int i = 0; i < 200; ++i)
      if (!disk.remember(event)) ++failures;
  };
  std::thread a(writer), b(writer);
  a.join();
  b.join();
  BOOST_TEST(failures.load() == 0);
  auto scan = disk.scan("toy-llama");
  BOOST_REQUIRE(scan.known.size() == 1u);
  BOOST_TEST(scan.known[0].adapter_id == "adp_twice");
  BOOST_TEST(fs::is_empty(fs::path(dir.path()) / "tmp"));  // no temp file left behind
}

BOOST_AUTO_TEST_CASE(scan_keeps_matching_weights_and_drops_ones_a_crash_cut_short) {
  install("adp_ok", kWeights, kWeights);
  install("adp_short", kWeights, kWeights.substr(0, 1000));
  std::string flipped = kWeights;
  flipped[1500] = 'x';
  install("adp_flipped", kWeights, flipped);
  auto scan = disk.scan("toy-llama");
  BOOST_TEST(scan.present.count("adp_ok") == 1u);
  BOOST_TEST(synced("adp_ok"));  // verified once, then made durable
  BOOST_TEST(scan.present.count("adp_short") == 0u);
  BOOST_TEST(scan.present.count("adp_flipped") == 0u);
  BOOST_TEST(!fs::exists(disk.adapter_dir("adp_short")));
  BOOST_TEST(!fs::exists(disk.adapter_dir("adp_flipped")));
  BOOST_TEST(scan.known.size() == 3u);  // still known: fetched again on demand
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::agent::test
