// BlobStore behaviour: round trips across chunk boundaries, ranged reads, integrity checks,
// dedupe, concurrent writers of one blob, references, GC and persistence across reopen.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include "storage_test_util.hpp"

namespace loraplane::storage::test {
namespace {

constexpr std::uint32_t kChunk = 4096;

struct Fixture {
  TempDir dir;
  std::unique_ptr<Db> db;
  explicit Fixture(DbOptions options = tiny_chunks(kChunk)) { reopen(std::move(options)); }
  void reopen(DbOptions options = tiny_chunks(kChunk)) {
    db.reset();
    auto opened = Db::open(dir.db_dir(), options);
    BOOST_REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
    db = std::move(*opened);
  }
  BlobStore& blobs() { return db->blobs(); }
};

void check_round_trip(BlobStore& store, const std::string& data, std::uint32_t chunk,
                      std::size_t piece) {
  BOOST_TEST_CONTEXT("size " << data.size()) {
    auto info = write_blob(store, data, piece);
    BOOST_REQUIRE_MESSAGE(info.ok(), (info.ok() ? "" : info.error().message));
    BOOST_TEST(info->sha256 == sha256_hex(data));
    BOOST_TEST(info->size == data.size());
    BOOST_TEST(info->chunk_size == chunk);
    BOOST_TEST(info->chunk_count == (data.size() + chunk - 1) / chunk);
    auto st = store.stat(info->sha256);
    BOOST_REQUIRE(st.has_value());
    BOOST_TEST(st->chunk_count == info->chunk_count);
    auto back = read_blob(store, info->sha256);
    BOOST_REQUIRE(back.ok());
    BOOST_TEST((back->bytes == data));
    for (auto n : back->pieces) BOOST_TEST(n <= chunk);
  }
}

// Writes `bytes` as blob `sha` in 999-byte pieces, yielding between them so that concurrent
// writers interleave; returns "ok" or the failing Errc.
std::string write_in_small_pieces(BlobStore& store, const std::string& sha,
                                  std::string_view bytes) {
  auto w = store.begin_write(sha, bytes.size());
  if (!w) return to_string(w.error().code);
  for (std::size_t pos = 0; pos < bytes.size(); pos += 999) {
    if (auto s = (*w)->append(bytes.substr(pos, 999)); !s) return to_string(s.error().code);
    std::this_thread::yield();
  }
  auto c = (*w)->commit();
  return c ? "ok" : to_string(c.error().code);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(blob_store)

BOOST_AUTO_TEST_CASE(round_trip_around_chunk_boundaries) {
  Fixture f;
  std::uint64_t expected_bytes = 0, expected_chunks = 0;
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{kChunk - 1},
                           std::size_t{kChunk}, std::size_t{kChunk + 1},
                           std::size_t{5 * kChunk + 7}}) {
    check_round_trip(f.blobs(), make_data(size, size), kChunk, 1000);
    expected_bytes += size;
    expected_chunks += (size + kChunk - 1) / kChunk;
  }
  BOOST_TEST(f.blobs().total_bytes() == expected_bytes);
  auto stats = stats_of(f.blobs());
  BOOST_TEST(stats.blobs == 6u);
  BOOST_TEST(stats.chunk_keys == expected_chunks);
  BOOST_TEST(stats.pending_writes == 0u);
}

BOOST_AUTO_TEST_CASE(round_trip_with_default_chunk_size_and_one_big_append) {
  Fixture f{DbOptions{}};
  constexpr std::size_t kC = kDefaultChunkSize;
  for (std::size_t size : {kC - 1, kC, kC + 1, 2 * kC + 3})
    check_round_trip(f.blobs(), make_data(size, size), kDefaultChunkSize, size);
}

BOOST_AUTO_TEST_CASE(chunk_size_option_is_clamped_without_test_flag) {
  DbOptions o;
  o.blobs.chunk_size = 1000;
  Fixture f{o};
  auto info = write_blob(f.blobs(), "abc");
  BOOST_REQUIRE(info.ok());
  BOOST_TEST(info->chunk_size == kMinChunkSize);
}

BOOST_AUTO_TEST_CASE(ranged_reads_at_chunk_boundaries) {
  Fixture f;
  const std::string data = make_data(3 * kChunk + 100, 7);
  const std::string sha = sha256_hex(data);
  BOOST_REQUIRE(write_blob(f.blobs(), data).ok());
  struct Case {
    std::uint64_t offset, length;
    std::size_t pieces;
  };
  for (auto c : {Case{0, BlobStore::npos, 4}, Case{kChunk - 1, 2, 2}, Case{kChunk, kChunk, 1},
                 Case{2 * kChunk - 1, kChunk + 1, 2}, Case{data.size() - 1, BlobStore::npos, 1},
                 Case{data.size(), 0, 0}, Case{data.size(), BlobStore::npos, 0},
                 Case{5, 0, 0}}) {
    BOOST_TEST_CONTEXT("offset " << c.offset << " length " << c.length) {
      auto got = read_blob(f.blobs(), sha, c.offset, c.length);
      BOOST_REQUIRE(got.ok());
      std::size_t len = c.length == BlobStore::npos ? data.size() - c.offset : c.length;
      BOOST_TEST((got->bytes == data.substr(c.offset, len)));
      BOOST_TEST(got->pieces.size() == c.pieces);
    }
  }
}

BOOST_AUTO_TEST_CASE(pinned_reads_within_one_chunk) {
  Fixture f;
  const std::string data = make_data(3 * kChunk + 100, 11);
  const std::string sha = sha256_hex(data);
  BOOST_REQUIRE(write_blob(f.blobs(), data).ok());
  struct Case {
    std::uint64_t offset, length;
  };
  for (auto c : {Case{0, kChunk}, Case{kChunk + 5, 10}, Case{3 * kChunk, 100}, Case{7, 0}}) {
    BOOST_TEST_CONTEXT("offset " << c.offset << " length " << c.length) {
      auto got = f.blobs().read_pinned(sha, c.offset, c.length);
      BOOST_REQUIRE(got.ok());
      BOOST_TEST(((*got)->bytes() == data.substr(c.offset, c.length)));
    }
  }
  auto code = [&](std::string_view s, std::uint64_t off, std::uint64_t len) {
    auto r = f.blobs().read_pinned(s, off, len);
    return r.ok() ? std::string("ok") : to_string(r.error().code);
  };
  BOOST_TEST(code(sha, kChunk - 1, 2) == "invalid_argument");  // crosses a chunk boundary
  BOOST_TEST(code(sha, 3 * kChunk, 101) == "invalid_argument");  // past the end
  BOOST_TEST(code(sha256_hex("other"), 0, 1) == "not_found");
}

BOOST_AUTO_TEST_CASE(reads_outside_the_blob_or_of_unknown_blobs_fail) {
  Fixture f;
  const std::string data = make_data(2 * kChunk, 8);
  const std::string sha = sha256_hex(data);
  BOOST_REQUIRE(write_blob(f.blobs(), data).ok());
  auto code = [&](std::string_view s, std::uint64_t off, std::uint64_t len) {
    auto r = read_blob(f.blobs(), s, off, len);
    return r.ok() ? std::string("ok") : to_string(r.error().code);
  };
  BOOST_TEST(code(sha, data.size() + 1, 0) == "invalid_argument");
  BOOST_TEST(code(sha, data.size() + 1, BlobStore::npos) == "invalid_argument");
  BOOST_TEST(code(sha, 0, data.size() + 1) == "invalid_argument");
  BOOST_TEST(code(sha, 10, BlobStore::npos - 5) == "invalid_argument");
  BOOST_TEST(code(sha256_hex("other"), 0, BlobStore::npos) == "not_found");
  BOOST_TEST(code("not-a-sha", 0, BlobStore::npos) == "invalid_argument");
}

BOOST_AUTO_TEST_CASE(sink_error_stops_the_read) {
  Fixture f;
  const std::string data = make_data(3 * kChunk, 9);
  BOOST_REQUIRE(write_blob(f.blobs(), data).ok());
  int calls = 0;
  auto s = f.blobs().read(sha256_hex(data), 0, BlobStore::npos, [&](std::string_view) -> Status {
    ++calls;
    return make_error(Errc::unavailable, "client went away");
  });
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.error().message == "client went away");
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(sha_mismatch_is_corrupt_and_leaves_nothing) {
  Fixture f;
  const std::string good = make_data(3 * kChunk + 5, 1);
  const std::string bad = make_data(good.size(), 2);
  auto w = f.blobs().begin_write(sha256_hex(good), good.size());
  BOOST_REQUIRE(w.ok());
  BOOST_REQUIRE((*w)->append(bad).ok());
  auto committed = (*w)->commit();
  BOOST_REQUIRE(!committed.ok());
  BOOST_TEST(to_string(committed.error().code) == std::string("corrupt"));
  BOOST_TEST(!f.blobs().stat(sha256_hex(good)).has_value());
  auto stats = stats_of(f.blobs());
  BOOST_TEST(stats.chunk_keys == 0u);
  BOOST_TEST(stats.pending_writes == 0u);
  BOOST_TEST(f.blobs().total_bytes() == 0u);
  BOOST_TEST(!read_blob(f.blobs(), sha256_hex(good)).ok());
  check_round_trip(f.blobs(), good, kChunk, 1000);
}

BOOST_AUTO_TEST_CASE(size_mismatch_is_corrupt_and_leaves_nothing) {
  Fixture f;
  const std::string data = make_data(2 * kChunk + 1, 3);
  auto shorter = f.blobs().begin_write(sha256_hex(data), data.size() + 1);
  BOOST_REQUIRE(shorter.ok());
  BOOST_REQUIRE((*shorter)->append(data).ok());
  auto c1 = (*shorter)->commit();
  BOOST_REQUIRE(!c1.ok());
  BOOST_TEST(to_string(c1.error().code) == std::string("corrupt"));

  auto longer = f.blobs().begin_write(sha256_hex(data), data.size() - 1);
  BOOST_REQUIRE(longer.ok());
  auto a = (*longer)->append(data);
  BOOST_REQUIRE(!a.ok());
  BOOST_TEST(to_string(a.error().code) == std::string("corrupt"));
  BOOST_TEST(!(*longer)->commit().ok());  // the failed append aborted the writer

  BOOST_TEST(!f.blobs().stat(sha256_hex(data)).has_value());
  BOOST_TEST(stats_of(f.blobs()).chunk_keys == 0u);
  BOOST_TEST(stats_of(f.blobs()).pending_writes == 0u);
}

BOOST_AUTO_TEST_CASE(malformed_sha_is_rejected_and_upper_case_is_normalised) {
  Fixture f;
  auto bad = f.blobs().begin_write("abc", 3);
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(to_string(bad.error().code) == std::string("invalid_argument"));
  std::string upper = sha256_hex("abc");
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto w = f.blobs().begin_write(upper, 3);
  BOOST_REQUIRE(w.ok());
  BOOST_REQUIRE((*w)->append("abc").ok());
  auto info = (*w)->commit();
  BOOST_REQUIRE(info.ok());
  BOOST_TEST(info->sha256 == sha256_hex("abc"));
  BOOST_TEST(f.blobs().stat(upper).has_value());
}

BOOST_AUTO_TEST_CASE(blob_needing_more_than_2_pow_32_chunks_is_refused) {
  Fixture f{tiny_chunks(1)};
  auto w = f.blobs().begin_write(sha256_hex("x"), std::uint64_t{1} << 32 | 1);
  BOOST_REQUIRE(!w.ok());
  BOOST_TEST(to_string(w.error().code) == std::string("limit_exceeded"));
}

BOOST_AUTO_TEST_CASE(destroying_an_uncommitted_writer_aborts_it) {
  Fixture f;
  const std::string data = make_data(4 * kChunk, 4);
  {
    auto w = f.blobs().begin_write(sha256_hex(data), data.size());
    BOOST_REQUIRE(w.ok());
    BOOST_REQUIRE((*w)->append(data.substr(0, 3 * kChunk + 10)).ok());
    BOOST_TEST(stats_of(f.blobs()).chunk_keys == 3u);
    BOOST_TEST(stats_of(f.blobs()).pending_writes == 1u);
  }
  BOOST_TEST(!f.blobs().stat(sha256_hex(data)).has_value());
  BOOST_TEST(stats_of(f.blobs()).chunk_keys == 0u);
  BOOST_TEST(stats_of(f.blobs()).pending_writes == 0u);

  auto w = f.blobs().begin_write(sha256_hex(data), data.size());
  BOOST_REQUIRE(w.ok());
  (*w)->abort();
  BOOST_TEST(!(*w)->commit().ok());
  BOOST_TEST(!(*w)->append("x").ok());
  check_round_trip(f.blobs(), data, kChunk, 1000);
}

BOOST_AUTO_TEST_CASE(same_content_twice_is_stored_once) {
  Fixture f;
  const std::string data = make_data(3 * kChunk + 1, 5);
  BOOST_REQUIRE(write_blob(f.blobs(), data).ok());
  auto again = write_blob(f.blobs(), data, 777);
  BOOST_REQUIRE(again.ok());
  BOOST_TEST(again->chunk_count == 4u);
  BOOST_TEST(stats_of(f.blobs()).chunk_keys == 4u);
  BOOST_TEST(f.blobs().total_bytes() == data.size());

  // A duplicate write with wrong bytes fails and an aborted duplicate leaves the blob intact.
  auto bad = f.blobs().begin_write(sha256_hex(data), data.size());
  BOOST_REQUIRE(bad.ok());
  BOOST_REQUIRE((*bad)->append(make_data(data.size(), 6)).ok());
  BOOST_TEST(!(*bad)->commit().ok());
  {
    auto dropped = f.blobs().begin_write(sha256_hex(data), data.size());
    BOOST_REQUIRE(dropped.ok());
    BOOST_REQUIRE((*dropped)->append(data.substr(0, kChunk + 3)).ok());
  }
  auto back = read_blob(f.blobs(), sha256_hex(data));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((back->bytes == data));
  BOOST_TEST(stats_of(f.blobs()).chunk_keys == 4u);
}

BOOST_AUTO_TEST_CASE(concurrent_writers_of_one_blob_do_not_corrupt_it) {
  Fixture f;
  const std::string data = make_data(10 * kChunk + 3, 10);
  const std::string wrong = make_data(data.size(), 11);
  const std::string sha = sha256_hex(data);
  constexpr int kWriters = 6;
  std::vector<std::string> outcome(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    std::string_view bytes = i % 3 == 2 ? wrong : data;  // two writers send wrong bytes
    threads.emplace_back(
        [&, i, bytes] { outcome[i] = write_in_small_pieces(f.blobs(), sha, bytes); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kWriters; ++i)
    BOOST_TEST(outcome[i] == (i % 3 == 2 ? "corrupt" : "ok"), "writer " << i);
  auto back = read_blob(f.blobs(), sha);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((back->bytes == data));
  BOOST_TEST(stats_of(f.blobs()).chunk_keys == 11u);
  BOOST_TEST(stats_of(f.blobs()).pending_writes == 0u);
}

BOOST_AUTO_TEST_CASE(second_writer_gives_up_after_same_blob_wait) {
  DbOptions o = tiny_chunks(kChunk);
  o.blobs.same_blob_wait = std::chrono::milliseconds(50);
  Fixture f{o};
  const std::string data = make_data(kChunk * 2, 12);
  auto first = f.blobs().begin_write(sha256_hex(data), data.size());
  BOOST_REQUIRE(first.ok());
  auto second = f.blobs().begin_write(sha256_hex(data), data.size());
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST(to_string(second.error().code) == std::string("unavailable"));
  BOOST_REQUIRE((*first)->append(data).ok());
  BOOST_REQUIRE((*first)->commit().ok());
  BOOST_TEST(write_blob(f.blobs(), data).ok());
}

BOOST_AUTO_TEST_CASE(references_keep_the_blob_until_the_last_is_removed) {
  Fixture f;
  const std::string data = make_data(2 * kChunk + 9, 13);
  const std::string sha = sha256_hex(data);
  auto missing = f.blobs().add_ref(sha, "adapter-a");
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(to_string(missing.error().code) == std::string("not_found"));
  BOOST_REQUIRE(write_blob(f.blobs(), data).ok());
  BOOST_TEST(f.blobs().add_ref(sha, "adapter-a").ok());
  BOOST_TEST(f.blobs().add_ref(sha, "adapter-a").ok());
  BOOST_TEST(f.blobs().ref_count(sha) == 1u);
  BOOST_TEST(f.blobs().add_ref(sha, "adapter-b").ok());
  BOOST_TEST(f.blobs().ref_count(sha) == 2u);

  BOOST_TEST(f.blobs().remove_ref(sha, "adapter-a").ok());
  BOOST_TEST(f.blobs().remove_ref(sha, "adapter-a").ok());
  BOOST_TEST(f.blobs().ref_count(sha) == 1u);
  BOOST_TEST(read_blob(f.blobs(), sha).ok());

  BOOST_TEST(f.blobs().remove_ref(sha, "adapter-b").ok());
  BOOST_TEST(f.blobs().ref_count(sha) == 0u);
  BOOST_TEST(!f.blobs().stat(sha).has_value());
  BOOST_TEST(!read_blob(f.blobs(), sha).ok());
  BOOST_TEST(f.blobs().total_bytes() == 0u);
  BOOST_TEST(stats_of(f.blobs()).chunk_keys == 0u);
  BOOST_TEST(f.blobs().remove_ref(sha, "adapter-b").ok());
  // The same content can be stored again afterwards.
  check_round_trip(f.blobs(), data, kChunk, 1000);
}

BOOST_AUTO_TEST_CASE(removing_a_reference_nobody_held_deletes_nothing) {
  Fixture f;
  const std::string data = make_data(kChunk + 1, 14);
  BOOST_REQUIRE(write_blob(f.blobs(), data).ok());
  BOOST_TEST(f.blobs().remove_ref(sha256_hex(data), "stranger").ok());
  BOOST_TEST(f.blobs().stat(sha256_hex(data)).has_value());
}

BOOST_AUTO_TEST_CASE(garbage_collection_deletes_old_unreferenced_blobs) {
  auto clock = std::make_shared<std::atomic<std::int64_t>>(1'000'000);
  DbOptions o = tiny_chunks(kChunk);
  o.blobs.clock = [clock] { return clock->load(); };
  Fixture f{o};
  const std::string kept = make_data(kChunk * 2, 15), orphan = make_data(kChunk * 3, 16),
                    rewritten = make_data(kChunk, 17);
  BOOST_REQUIRE(write_blob(f.blobs(), kept).ok());
  BOOST_REQUIRE(write_blob(f.blobs(), orphan).ok());
  BOOST_REQUIRE(write_blob(f.blobs(), rewritten).ok());
  BOOST_REQUIRE(f.blobs().add_ref(sha256_hex(kept), "adapter").ok());

  auto none = f.blobs().collect_garbage(3600);
  BOOST_REQUIRE(none.ok());
  BOOST_TEST(*none == 0u);

  *clock += 3000;
  BOOST_REQUIRE(write_blob(f.blobs(), rewritten).ok());  // a duplicate write refreshes its age
  *clock += 1000;
  auto one = f.blobs().collect_garbage(3600);
  BOOST_REQUIRE(one.ok());
  BOOST_TEST(*one == 1u);
  BOOST_TEST(!f.blobs().stat(sha256_hex(orphan)).has_value());
  BOOST_TEST(f.blobs().stat(sha256_hex(kept)).has_value());
  BOOST_TEST(f.blobs().stat(sha256_hex(rewritten)).has_value());
  BOOST_TEST(f.blobs().total_bytes() == kept.size() + rewritten.size());
  BOOST_TEST(stats_of(f.blobs()).chunk_keys == 3u);
}

// Bytes in the store's blob files (where chunks of 64 KiB and more live).
std::uintmax_t blob_file_bytes(const std::string& db_dir) {
  std::uintmax_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(db_dir))
    if (e.path().extension() == ".blob") total += e.file_size();
  return total;
}

constexpr std::uint32_t kBig = 128 * 1024;  // above the chunk family's min_blob_size

// Writes two blobs at once, chunk by chunk in turn (kBig chunks), so that they share blob files.
void write_interleaved(BlobStore& blobs, const std::string& first, const std::string& second) {
  auto a = blobs.begin_write(sha256_hex(first), first.size());
  auto b = blobs.begin_write(sha256_hex(second), second.size());
  BOOST_REQUIRE(a.ok() && b.ok());
  for (std::size_t pos = 0; pos < std::max(first.size(), second.size()); pos += kBig) {
    if (pos < first.size())
      BOOST_REQUIRE((*a)->append(std::string_view(first).substr(pos, kBig)).ok());
    if (pos < second.size())
      BOOST_REQUIRE((*b)->append(std::string_view(second).substr(pos, kBig)).ok());
  }
  BOOST_REQUIRE((*a)->commit().ok());
  BOOST_REQUIRE((*b)->commit().ok());
}

BOOST_AUTO_TEST_CASE(deleting_one_of_two_interleaved_blobs_frees_its_disk) {
  // Two blobs written at once share blob files; deleting one leaves those files more than half
  // dead, which the GC must notice and free by copying the live chunks out.
  Fixture f{tiny_chunks(kBig)};
  const std::string gone = make_data(10 * kBig, 20), kept = make_data(8 * kBig, 21);
  write_interleaved(f.blobs(), gone, kept);
  BOOST_REQUIRE(f.blobs().add_ref(sha256_hex(kept), "adapter").ok());
  BOOST_TEST(blob_file_bytes(f.dir.db_dir()) >= gone.size() + kept.size());

  auto deleted = f.blobs().collect_garbage(0);
  BOOST_REQUIRE(deleted.ok());
  BOOST_TEST(*deleted == 1u);
  const auto left = blob_file_bytes(f.dir.db_dir());
  BOOST_TEST_MESSAGE("blob files after GC: " << left << " bytes");
  BOOST_TEST(left >= kept.size());
  BOOST_TEST(left < kept.size() + kept.size() / 4);
  auto back = read_blob(f.blobs(), sha256_hex(kept));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((back->bytes == kept));
  BOOST_TEST(!f.blobs().stat(sha256_hex(gone)).has_value());
}

// A stop cuts the GC short (shutdown must not wait for a relocation of the whole store); the
// store stays whole, and the first GC after the next open frees what the stopped one did not.
BOOST_AUTO_TEST_CASE(a_stopped_gc_is_finished_by_the_first_gc_after_reopening) {
  Fixture f{tiny_chunks(kBig)};
  const std::string gone = make_data(10 * kBig, 22), kept = make_data(8 * kBig, 23);
  write_interleaved(f.blobs(), gone, kept);
  BOOST_REQUIRE(f.blobs().add_ref(sha256_hex(kept), "adapter").ok());
  BOOST_REQUIRE(f.blobs().add_ref(sha256_hex(gone), "old-adapter").ok());
  BOOST_REQUIRE(f.blobs().remove_ref(sha256_hex(gone), "old-adapter").ok());  // deleted now
  BOOST_TEST(!f.blobs().stat(sha256_hex(gone)).has_value());

  std::atomic<bool> stop{true};
  auto stopped = f.blobs().collect_garbage(0, &stop);
  BOOST_REQUIRE(!stopped.ok());
  BOOST_TEST(stopped.error().code == Errc::unavailable);
  BOOST_TEST(blob_file_bytes(f.dir.db_dir()) >= gone.size() + kept.size());  // not freed yet

  f.reopen(tiny_chunks(kBig));
  auto after = f.blobs().collect_garbage(0);
  BOOST_REQUIRE(after.ok());
  BOOST_TEST(*after == 0u);  // nothing left to delete, but the space is freed
  BOOST_TEST(blob_file_bytes(f.dir.db_dir()) < kept.size() + kept.size() / 4);
  auto back = read_blob(f.blobs(), sha256_hex(kept));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((back->bytes == kept));
}

BOOST_AUTO_TEST_CASE(blobs_and_references_survive_reopen) {
  Fixture f;
  const std::string data = make_data(4 * kChunk + 2, 18);
  const std::string sha = sha256_hex(data);
  BOOST_REQUIRE(write_blob(f.blobs(), data).ok());
  BOOST_REQUIRE(f.blobs().add_ref(sha, "adapter").ok());
  f.reopen(tiny_chunks(2 * kChunk));  // a new chunk size applies to new blobs only
  auto back = read_blob(f.blobs(), sha);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((back->bytes == data));
  BOOST_TEST(f.blobs().ref_count(sha) == 1u);
  BOOST_TEST(f.blobs().total_bytes() == data.size());
  BOOST_TEST(f.blobs().stat(sha)->chunk_size == kChunk);
  check_round_trip(f.blobs(), make_data(3 * kChunk, 19), 2 * kChunk, 1000);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::storage::test
