// Writes blobs of random bytes into a fresh blob store, `--interleave` at a time with their
// 1 MiB appends alternating (as concurrent writers would), optionally deleting one blob and
// running the GC after `--gc-after` blobs (which leaves an SST spanning the key space), and
// prints after each group the bytes the process wrote (/proc/self/io wchar: RocksDB's own
// flushes, compactions and blob relocation included) against the bytes stored.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/sha256.hpp"
#include "storage/db.hpp"
#include "test/unit/storage/storage_test_util.hpp"

namespace {

using namespace loraplane;

long long written_bytes() {
  std::ifstream in("/proc/self/io");
  std::string name;
  long long value = 0;
  while (in >> name >> value)
    if (name == "wchar:") return value;
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"blob store write amplification"};
  std::string dir;
  int blobs = 60, mb = 50, interleave = 1, gc_after = 0;
  app.add_option("--dir", dir, "empty directory for the store (created)")->required();
  app.add_option("--blobs", blobs, "blobs to write")->check(CLI::PositiveNumber);
  app.add_option("--mb", mb, "MiB per blob")->check(CLI::Range(1, 1024));
  app.add_option("--interleave", interleave, "blobs written at once, appends alternating")
      ->check(CLI::Range(1, 16));
  app.add_option("--gc-after", gc_after, "delete one blob and run the GC after this many (0: never)");
  CLI11_PARSE(app, argc, argv);
  if (std::filesystem::exists(dir) && !std::filesystem::is_empty(dir)) {
    std::fprintf(stderr, "--dir %s is not empty\n", dir.c_str());
    return 2;
  }
  auto db = storage::Db::open(dir);
  if (!db) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), db.error().message.c_str());
    return 1;
  }
  auto& store = db.value()->blobs();
  storage::test::DataGen random_bytes(42);  // incompressible, like adapter weights
  std::vector<std::string> data(static_cast<std::size_t>(interleave),
                                std::string(static_cast<std::size_t>(mb) << 20, '\0'));
  constexpr std::size_t kPiece = 1 << 20;
  const long long start = written_bytes();
  double stored = 0, last_stored = 0;
  long long last_written = 0;
  std::printf("%8s %10s %10s %8s %12s %8s\n", "blobs", "stored_MB", "written_MB", "amp",
              "step_amp", "step_s");
  for (int done = 0; done < blobs; done += interleave) {
    std::vector<std::unique_ptr<storage::BlobWriter>> writers;
    std::vector<std::string> shas;
    for (auto& d : data) {
      random_bytes.fill(d.data(), d.size());
      shas.push_back(sha256_hex(d));
      auto w = store.begin_write(shas.back(), d.size());
      if (!w) return std::fprintf(stderr, "begin: %s\n", w.error().message.c_str()), 1;
      writers.push_back(std::move(*w));
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t off = 0; off < data[0].size(); off += kPiece)
      for (std::size_t k = 0; k < data.size(); ++k)
        if (auto s = writers[k]->append(std::string_view(data[k]).substr(off, kPiece)); !s)
          return std::fprintf(stderr, "append: %s\n", s.error().message.c_str()), 1;
    for (std::size_t k = 0; k < data.size(); ++k) {
      if (auto c = writers[k]->commit(); !c)
        return std::fprintf(stderr, "commit: %s\n", c.error().message.c_str()), 1;
      if (auto r = store.add_ref(shas[k], "bench-" + std::to_string(done + static_cast<int>(k)));
          !r)
        return std::fprintf(stderr, "add_ref: %s\n", r.error().message.c_str()), 1;
      stored += static_cast<double>(data[k].size());
    }
    if (gc_after > 0 && done < gc_after && done + interleave >= gc_after) {
      (void)store.remove_ref(shas[0], "bench-" + std::to_string(done));
      stored -= static_cast<double>(data[0].size());
      auto gc = store.collect_garbage(0);
      std::printf("# blob deleted, GC ran: %s\n", gc ? "ok" : gc.error().message.c_str());
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long long written = written_bytes() - start;
    const double step_stored = stored - last_stored;
    std::printf("%8d %10.0f %10.0f %8.2f %12.2f %8.2f\n", done + interleave, stored / 1e6,
                static_cast<double>(written) / 1e6, static_cast<double>(written) / stored,
                step_stored > 0 ? static_cast<double>(written - last_written) / step_stored : 0.0,
                seconds);
    std::fflush(stdout);
    last_stored = stored;
    last_written = written;
  }
}
