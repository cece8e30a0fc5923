// Helpers shared by the storage test suites: a temp dir per test, deterministic data, and
// write/read round trips through the public BlobStore interface.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/sha256.hpp"
#include "storage/blob_store.hpp"
#include "storage/db.hpp"

namespace loraplane::storage::test {

// storage_test re-executes itself with this flag to run a crash child (crash_test.cpp).
inline constexpr std::string_view kCrashChildFlag = "--storage-crash-child";
int run_crash_child(int argc, char* argv[]);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                        "/loraplane-storage-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string db_dir() const { return path_ + "/db"; }

 private:
  std::string path_;
};

// SplitMix64: cheap, deterministic bytes for test content.
class DataGen {
 public:
  explicit DataGen(std::uint64_t seed) : state_(seed) {}
  void fill(char* out, std::size_t n) {
    while (n > 0) {
      std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      std::size_t k = n < 8 ? n : 8;
      for (std::size_t i = 0; i < k; ++i) out[i] = static_cast<char>(z >> (8 * i));
      out += k;
      n -= k;
    }
  }

 private:
  std::uint64_t state_;
};

inline std::string make_data(std::size_t n, std::uint64_t seed) {
  std::string s(n, '\0');
  DataGen(seed).fill(s.data(), n);
  return s;
}

inline DbOptions tiny_chunks(std::uint32_t chunk_size) {
  DbOptions o;
  o.blobs.chunk_size = chunk_size;
  o.blobs.allow_tiny_chunks_for_tests = true;
  return o;
}

// Writes `data` under its own sha256 in pieces of `piece` bytes.
inline Result<BlobInfo> write_blob(BlobStore& store, std::string_view data,
                                   std::size_t piece = 1000) {
  auto writer = store.begin_write(sha256_hex(data), data.size());
  if (!writer) return writer.error();
  for (std::size_t pos = 0; pos < data.size(); pos += piece) {
    if (auto s = (*writer)->append(data.substr(pos, piece)); !s) return s.error();
  }
  return (*writer)->commit();
}

struct ReadResult {
  std::string bytes;
  std::vector<std::size_t> pieces;
};

inline Result<ReadResult> read_blob(BlobStore& store, std::string_view sha,
                                    std::uint64_t offset = 0,
                                    std::uint64_t length = BlobStore::npos) {
  ReadResult out;
  auto s = store.read(sha, offset, length, [&](std::string_view piece) -> Status {
    out.bytes.append(piece);
    out.pieces.push_back(piece.size());
    return {};
  });
  if (!s) return s.error();
  return out;
}

inline BlobStoreStats stats_of(BlobStore& store) {
  auto s = store.scan_stats();
  if (!s) throw std::runtime_error("scan_stats: " + s.error().message);
  return *s;
}

}  // namespace loraplane::storage::test
