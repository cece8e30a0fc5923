// Db metadata tables: CRUD, prefix scans, atomic batches, persistence; and the blob key layout.
#include <boost/test/unit_test.hpp>

#include "storage/blob_keys.hpp"
#include "storage_test_util.hpp"

namespace loraplane::storage::test {
namespace {

std::unique_ptr<Db> open_db(const TempDir& dir) {
  auto db = Db::open(dir.db_dir());
  BOOST_REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
  return std::move(*db);
}

std::optional<std::string> get(Db& db, Table t, std::string_view key) {
  auto v = db.get(t, key);
  BOOST_REQUIRE(v.ok());
  return *v;
}

std::vector<std::string> scan_keys(Db& db, Table t, std::string_view prefix,
                                   std::size_t limit = 100) {
  std::vector<std::string> keys;
  auto s = db.scan(t, prefix, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return keys.size() < limit;
  });
  BOOST_REQUIRE(s.ok());
  return keys;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metadata)

BOOST_AUTO_TEST_CASE(put_get_delete_per_table) {
  TempDir dir;
  auto db = open_db(dir);
  BOOST_TEST(!get(*db, Table::tenants, "t1").has_value());
  BOOST_REQUIRE(db->put(Table::tenants, "t1", "tenant one").ok());
  BOOST_REQUIRE(db->put(Table::api_keys, "t1", "a key").ok());
  BOOST_TEST(get(*db, Table::tenants, "t1").value() == "tenant one");
  BOOST_TEST(get(*db, Table::api_keys, "t1").value() == "a key");
  BOOST_TEST(!get(*db, Table::adapters, "t1").has_value());

  BOOST_REQUIRE(db->put(Table::tenants, "t1", std::string("bin\0ary", 7)).ok());
  BOOST_TEST((get(*db, Table::tenants, "t1").value() == std::string("bin\0ary", 7)));
  BOOST_REQUIRE(db->del(Table::tenants, "t1").ok());
  BOOST_REQUIRE(db->del(Table::tenants, "t1").ok());
  BOOST_TEST(!get(*db, Table::tenants, "t1").has_value());
  BOOST_TEST(get(*db, Table::api_keys, "t1").value() == "a key");
}

BOOST_AUTO_TEST_CASE(scan_visits_a_prefix_in_key_order_and_stops_on_request) {
  TempDir dir;
  auto db = open_db(dir);
  for (const char* k : {"a/3", "b/1", "a/1", "a", "a/2", "a0", "a/\xff"})
    BOOST_REQUIRE(db->put(Table::adapters, k, "v").ok());
  BOOST_REQUIRE(db->put(Table::meta, "a/9", "other table").ok());
  BOOST_TEST((scan_keys(*db, Table::adapters, "a/") ==
              std::vector<std::string>{"a/1", "a/2", "a/3", "a/\xff"}));
  BOOST_TEST((scan_keys(*db, Table::adapters, "a/", 2) == std::vector<std::string>{"a/1", "a/2"}));
  BOOST_TEST(scan_keys(*db, Table::adapters, "").size() == 7u);
  BOOST_TEST(scan_keys(*db, Table::adapters, "c").empty());
}

BOOST_AUTO_TEST_CASE(batch_applies_every_operation_together_and_persists) {
  TempDir dir;
  {
    auto db = open_db(dir);
    BOOST_REQUIRE(db->put(Table::api_keys, "old-key", "t1").ok());
    MetaBatch batch;
    batch.put(Table::tenants, "t1", "tenant");
    batch.put(Table::api_keys, "new-key", "t1");
    batch.del(Table::api_keys, "old-key");
    batch.put(Table::meta, "checkpoint", "42");
    batch.put(Table::meta, "checkpoint", "43");  // later ops win
    BOOST_REQUIRE(db->write(batch).ok());
    BOOST_REQUIRE(db->write(MetaBatch{}).ok());
  }
  auto db = open_db(dir);
  BOOST_TEST(get(*db, Table::tenants, "t1").value() == "tenant");
  BOOST_TEST(get(*db, Table::api_keys, "new-key").value() == "t1");
  BOOST_TEST(!get(*db, Table::api_keys, "old-key").has_value());
  BOOST_TEST(get(*db, Table::meta, "checkpoint").value() == "43");
}

BOOST_AUTO_TEST_CASE(open_fails_cleanly_on_an_unusable_dir) {
  TempDir dir;
  auto first = open_db(dir);
  auto second = Db::open(dir.db_dir());  // RocksDB's LOCK file is held by `first`
  BOOST_TEST(!second.ok());
  auto file = dir.path() + "/file";
  std::FILE* fp = std::fopen(file.c_str(), "w");
  BOOST_REQUIRE(fp != nullptr);
  std::fclose(fp);
  BOOST_TEST(!Db::open(file + "/db").ok());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(blob_key_layout)

BOOST_AUTO_TEST_CASE(chunk_keys_sort_by_index_inside_the_blob_range) {
  const std::string sha = sha256_hex("x");
  std::vector<std::string> keys{blob_keys::head_key(sha)};
  for (std::uint32_t i : {0u, 1u, 255u, 256u, 65536u, 0x01000000u, 0xffffffffu})
    keys.push_back(blob_keys::chunk_key(sha, i));
  keys.push_back(blob_keys::chunk_range_end(sha));
  BOOST_TEST(std::is_sorted(keys.begin(), keys.end()));
  BOOST_TEST(keys[1].size() == blob_keys::kChunkKeySize);
  const std::string next = sha.substr(0, 63) + static_cast<char>(sha[63] + 1);
  BOOST_TEST((blob_keys::chunk_range_end(sha) < next));  // (( )): plain std::string order
}

BOOST_AUTO_TEST_CASE(manifest_round_trip_and_rejects) {
  blob_keys::Manifest m{20'000'001, 8u << 20, 3, 1'700'000'000};
  auto back = blob_keys::decode_manifest(blob_keys::encode_manifest(m));
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->size == m.size);
  BOOST_TEST(back->chunk_size == m.chunk_size);
  BOOST_TEST(back->chunk_count == m.chunk_count);
  BOOST_TEST(back->created == m.created);
  BOOST_TEST(!blob_keys::decode_manifest("").has_value());
  m.chunk_count = 2;  // inconsistent with size / chunk_size
  BOOST_TEST(!blob_keys::decode_manifest(blob_keys::encode_manifest(m)).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::storage::test
