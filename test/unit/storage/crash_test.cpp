// Crash safety: a child process writes through the real Db and SIGKILLs itself before or right
// after commit; the parent reopens the same directory and checks what a user would see.
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "storage_test_util.hpp"

namespace loraplane::storage::test {
namespace {

constexpr std::uint32_t kSmallChunk = 64 * 1024;
constexpr std::size_t kSmallBlob = 16 * kSmallChunk + 123;
// Twenty 8 MiB chunks overflow both 64 MiB memtables of the chunk family, so RocksDB must have
// flushed some of them into blob files before the child dies (writes stall until it does). The
// content is never committed, so its bytes and declared sha256 need not match.
constexpr std::size_t kLargeChunks = 20;
constexpr std::size_t kLargeBlob = 24 * std::size_t{kDefaultChunkSize};
const std::string kLargeSha = sha256_hex("never committed");

std::string committed_data() { return make_data(3 * kSmallChunk + 5, 100); }
std::string small_data() { return make_data(kSmallBlob, 101); }

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "crash child: %s\n", what);
  std::_Exit(3);
}

void child_write_then_die(const std::string& mode, const std::string& dir) {
  const bool large = mode == "large-uncommitted";
  auto db = Db::open(dir, large ? DbOptions{} : tiny_chunks(kSmallChunk));
  if (!db) die(db.error().message.c_str());
  auto& blobs = (*db)->blobs();
  if (mode == "committed") {
    if (!write_blob(blobs, small_data(), 10'000)) die("commit failed");
    kill(getpid(), SIGKILL);
  }
  if (!write_blob(blobs, committed_data())) die("commit failed");
  if (large) {
    auto w = blobs.begin_write(kLargeSha, kLargeBlob);
    if (!w) die("begin_write failed");
    for (std::size_t i = 0; i < kLargeChunks; ++i) {
      if (!(*w)->append(std::string(kDefaultChunkSize, static_cast<char>('a' + i)))) die("append");
    }
    kill(getpid(), SIGKILL);
  }
  const std::string data = small_data();
  auto w = blobs.begin_write(sha256_hex(data), data.size());
  if (!w) die("begin_write failed");
  if (!(*w)->append(std::string_view(data).substr(0, 10 * kSmallChunk + 77))) die("append failed");
  kill(getpid(), SIGKILL);
}

// Runs this test binary as the crash child and checks it died of SIGKILL.
void run_child(const std::string& mode, const std::string& dir) {
  pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    std::string flag(kCrashChildFlag);
    char* argv[] = {const_cast<char*>("storage_test"), flag.data(),
                    const_cast<char*>(mode.c_str()), const_cast<char*>(dir.c_str()), nullptr};
    execv("/proc/self/exe", argv);
    std::_Exit(127);
  }
  int status = 0;
  BOOST_REQUIRE(waitpid(pid, &status, 0) == pid);
  BOOST_REQUIRE_MESSAGE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                        "child did not die of SIGKILL, status " << status);
}

std::unique_ptr<Db> reopen(const std::string& dir, DbOptions options) {
  auto db = Db::open(dir, options);
  BOOST_REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
  return std::move(*db);
}

void check_committed_blob_intact(BlobStore& blobs) {
  const std::string data = committed_data();
  auto back = read_blob(blobs, sha256_hex(data));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((back->bytes == data));
}

bool has_blob_files(const std::string& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".blob") return true;
  return false;
}

}  // namespace

int run_crash_child(int argc, char* argv[]) {
  if (argc != 4) return 2;
  child_write_then_die(argv[2], argv[3]);
  return 4;  // not reached: the child kills itself
}

BOOST_AUTO_TEST_SUITE(crash)

BOOST_AUTO_TEST_CASE(write_killed_before_commit_leaves_no_trace) {
  TempDir dir;
  run_child("uncommitted", dir.db_dir());
  auto db = reopen(dir.db_dir(), tiny_chunks(kSmallChunk));
  const std::string data = small_data();
  BOOST_TEST(!db->blobs().stat(sha256_hex(data)).has_value());
  BOOST_TEST(!read_blob(db->blobs(), sha256_hex(data)).ok());
  check_committed_blob_intact(db->blobs());
  auto stats = stats_of(db->blobs());
  BOOST_TEST(stats.blobs == 1u);
  BOOST_TEST(stats.chunk_keys == 4u);  // only the committed blob's
  BOOST_TEST(stats.pending_writes == 0u);
  BOOST_TEST(db->blobs().total_bytes() == committed_data().size());

  auto again = write_blob(db->blobs(), data);
  BOOST_REQUIRE(again.ok());
  auto back = read_blob(db->blobs(), sha256_hex(data));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((back->bytes == data));
}

BOOST_AUTO_TEST_CASE(write_killed_after_commit_returned_is_visible) {
  TempDir dir;
  run_child("committed", dir.db_dir());
  auto db = reopen(dir.db_dir(), tiny_chunks(kSmallChunk));
  const std::string data = small_data();
  auto info = db->blobs().stat(sha256_hex(data));
  BOOST_REQUIRE(info.has_value());
  BOOST_TEST(info->size == data.size());
  auto back = read_blob(db->blobs(), sha256_hex(data));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((back->bytes == data));
  BOOST_TEST(stats_of(db->blobs()).pending_writes == 0u);
}

BOOST_AUTO_TEST_CASE(large_write_killed_after_memtable_flushes_leaves_no_trace) {
  TempDir dir;
  run_child("large-uncommitted", dir.db_dir());
  BOOST_TEST(has_blob_files(dir.db_dir()), "premise: chunks reached BlobDB files before the kill");
  auto db = reopen(dir.db_dir(), DbOptions{});
  BOOST_TEST(!db->blobs().stat(kLargeSha).has_value());
  check_committed_blob_intact(db->blobs());
  auto stats = stats_of(db->blobs());
  BOOST_TEST(stats.chunk_keys == 1u);  // the committed blob's one 8 MiB chunk
  BOOST_TEST(stats.pending_writes == 0u);
  BOOST_TEST(db->blobs().total_bytes() == committed_data().size());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::storage::test
