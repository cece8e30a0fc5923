// A 500 MB blob (500 * 10^6 bytes) streamed in and out with bounded memory. The size can be
// lowered with LORAPLANE_BIG_BLOB_MB (CI's ASan job uses a smaller size; see the report line).
// Prints write/read throughput and peak RSS growth; only the memory bound is asserted.
#define BOOST_TEST_MODULE storage_big_blob
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "storage_test_util.hpp"

namespace loraplane::storage::test {
namespace {

constexpr std::size_t kPiece = 1u << 20;
constexpr std::uint64_t kMaxRssGrowthBytes = 256ull * 1000 * 1000;
constexpr std::uint64_t kMemtableBytes = 64ull << 20;
constexpr std::uint64_t kMaxDataBytesAfterGc = 16ull * 1000 * 1000;

std::uint64_t blob_size() {
  std::uint64_t mb = 500;
  if (const char* env = std::getenv("LORAPLANE_BIG_BLOB_MB"); env != nullptr && *env != '\0')
    mb = std::strtoull(env, nullptr, 10);
  return mb * 1000 * 1000;
}

// A /proc/self/status field in bytes ("VmHWM", "VmRSS").
std::uint64_t proc_status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1)) * 1024;
  }
  return 0;
}

// Resets VmHWM to the current RSS (Linux >= 4.0); false if the kernel refuses.
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return out.good();
}

// Calls `consume` with the blob's bytes in 1 MiB pieces, regenerated on every call.
template <class F>
void generate(std::uint64_t size, F&& consume) {
  DataGen gen(500);
  std::string piece(kPiece, '\0');
  for (std::uint64_t done = 0; done < size;) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kPiece, size - done));
    gen.fill(piece.data(), n);
    consume(std::string_view(piece.data(), n));
    done += n;
  }
}

// Bytes of the database's files other than WAL segments (*.log).
std::uint64_t data_file_bytes(const std::string& dir) {
  std::uint64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() != ".log") n += e.file_size();
  return n;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

BOOST_AUTO_TEST_CASE(big_blob_streams_in_and_out_with_bounded_memory) {
  const std::uint64_t size = blob_size();
  BOOST_REQUIRE(size > 0);
  TempDir dir;
  auto opened = Db::open(dir.db_dir());
  BOOST_REQUIRE(opened.ok());
  auto& blobs = (*opened)->blobs();

  auto t0 = std::chrono::steady_clock::now();
  Sha256 expected_hash;
  generate(size, [&](std::string_view p) { expected_hash.update(p); });
  const std::string sha = expected_hash.finish_hex();
  const double generate_s = seconds_since(t0);  // also inside the write figure below

  const bool peak_reset = reset_peak_rss();
  const std::uint64_t rss_before = proc_status_bytes(peak_reset ? "VmRSS" : "VmHWM");

  t0 = std::chrono::steady_clock::now();
  auto writer = blobs.begin_write(sha, size);
  BOOST_REQUIRE(writer.ok());
  generate(size, [&](std::string_view p) { BOOST_REQUIRE((*writer)->append(p).ok()); });
  auto info = (*writer)->commit();
  BOOST_REQUIRE_MESSAGE(info.ok(), (info.ok() ? "" : info.error().message));
  const double write_s = seconds_since(t0);
  BOOST_TEST(info->size == size);
  BOOST_TEST(info->chunk_count == (size + kDefaultChunkSize - 1) / kDefaultChunkSize);

  t0 = std::chrono::steady_clock::now();
  Sha256 read_hash;
  std::uint64_t read_bytes = 0;
  std::size_t largest_piece = 0;
  auto read = blobs.read(sha, 0, BlobStore::npos, [&](std::string_view p) -> Status {
    read_hash.update(p);
    read_bytes += p.size();
    largest_piece = std::max(largest_piece, p.size());
    return {};
  });
  const double read_s = seconds_since(t0);
  BOOST_REQUIRE(read.ok());
  BOOST_TEST(read_bytes == size);
  BOOST_TEST(read_hash.finish_hex() == sha);
  BOOST_TEST(largest_piece <= kDefaultChunkSize);

  const std::uint64_t growth = proc_status_bytes("VmHWM") - rss_before;

  // Deleting the blob gives its disk space back (the WAL, bounded separately, aside).
  const std::uint64_t disk_before = data_file_bytes(dir.db_dir());
  auto collected = blobs.collect_garbage(0);
  BOOST_REQUIRE(collected.ok());
  BOOST_TEST(*collected == 1u);
  const std::uint64_t disk_after = data_file_bytes(dir.db_dir());
  // Up to two 64 MiB memtables (and the WAL) hold the newest chunks; the rest are in files.
  if (size >= 4 * kMemtableBytes) BOOST_TEST(disk_before > size / 2);
  BOOST_TEST(disk_after < kMaxDataBytesAfterGc);
  const double mb = static_cast<double>(size) / 1e6;
  std::printf("big blob: %.0f MB; generate+hash %.2f s; write+commit %.2f s (%.0f MB/s); "
              "read+hash %.2f s (%.0f MB/s); peak RSS growth %.1f MB (%s); "
              "data files %.1f MB before GC, %.1f MB after\n",
              mb, generate_s, write_s, mb / write_s, read_s, mb / read_s,
              static_cast<double>(growth) / 1e6,
              peak_reset ? "VmHWM reset before write" : "VmHWM since process start",
              static_cast<double>(disk_before) / 1e6, static_cast<double>(disk_after) / 1e6);
#if defined(__SANITIZE_ADDRESS__)
  BOOST_TEST_MESSAGE("ASan build: its quarantine keeps freed memory; RSS bound not asserted");
#else
  BOOST_TEST(growth < kMaxRssGrowthBytes);
#endif
}

}  // namespace loraplane::storage::test
