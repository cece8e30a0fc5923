// Agent file layout (adapter_disk.hpp): catalog files, verified adapter dirs, temp downloads.
#include "workers/agent/adapter_disk.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "common/sha256.hpp"
#include "schema/json.hpp"

namespace loraplane::agent {

namespace fs = std::filesystem;

namespace {

// strerror is not thread-safe; the generic category's message is.
std::string errno_text() { return std::error_code(errno, std::generic_category()).message(); }

Status io_error(const std::string& what, const std::error_code& ec) {
  return make_error(Errc::io, what + ": " + ec.message());
}

Status write_synced(const fs::path& path, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return make_error(Errc::io, "open " + path.string() + ": " + errno_text());
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    auto w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      auto err = errno_text();
      ::close(fd);
      return make_error(Errc::io, "write " + path.string() + ": " + err);
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return make_error(Errc::io, "fsync " + path.string() + ": " + errno_text());
  return {};
}

void sync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Size and sha256 of a file, read in 1 MiB pieces; nullopt when it cannot be read.
std::optional<std::pair<std::uint64_t, std::string>> digest(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  Sha256 hash;
  std::vector<char> piece(std::size_t{1} << 20);
  std::uint64_t total = 0;
  for (;;) {
    auto n = ::read(fd, piece.data(), piece.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    hash.update(std::string_view(piece.data(), static_cast<std::size_t>(n)));
    total += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  return std::make_pair(total, hash.finish_hex());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

AdapterDisk::AdapterDisk(fs::path root) : root_(std::move(root)) {}

Status AdapterDisk::prepare() const {
  std::error_code ec;
  for (auto sub : {"catalog", "adapters", "tmp"}) {
    fs::create_directories(root_ / sub, ec);
    if (ec) return io_error("create " + (root_ / sub).string(), ec);
  }
  for (const auto& entry : fs::directory_iterator(root_ / "tmp", ec))
    fs::remove_all(entry.path(), ec);
  return {};
}

DiskScan AdapterDisk::scan(std::string_view base_model) const {
  DiskScan out;
  std::error_code ec;
  std::map<std::string, const schema::LoadEvent*> known;
  for (const auto& entry : fs::directory_iterator(root_ / "catalog", ec)) {
    if (entry.path().extension() != ".json") continue;
    auto event = schema::parse<schema::LoadEvent>(read_file(entry.path()));
    if (!event) {
      spdlog::warn("agent: ignoring unreadable catalog file {}: {}", entry.path().string(),
                   event.error().message);
      continue;
    }
    if (event->base_model != base_model) continue;
    out.known.push_back(std::move(*event));
  }
  for (const auto& event : out.known) known[event.adapter_id] = &event;
  for (const auto& entry : fs::directory_iterator(root_ / "adapters", ec)) {
    const auto id = entry.path().filename().string();
    const auto weights = entry.path() / kWeightsFile;
    std::error_code size_ec;
    const auto bytes = fs::file_size(weights, size_ec);
    auto event = known.find(id);
    bool keep = event != known.end() && !size_ec && fs::exists(entry.path() / kConfigFile);
    if (keep && !fs::exists(entry.path() / kSyncedMarker, size_ec)) {
      // Installed but maybe never written out: trust only what matches the catalog.
      auto d = digest(weights);
      keep = d && d->first == event->second->size_bytes && d->second == event->second->sha256;
      if (keep) {
        keep = static_cast<bool>(make_durable(id));
      } else {
        spdlog::warn("agent: {} on disk differs from its catalog entry (cut short by a crash?); "
                     "removed, it will be fetched again",
                     id);
      }
    }
    if (!keep) {
      fs::remove_all(entry.path(), ec);
      out.removed.push_back(id);
      continue;
    }
    out.present[id] = OnDisk{bytes, fs::last_write_time(entry.path(), size_ec)};
  }
  return out;
}

Status AdapterDisk::remember(const schema::LoadEvent& event) const {
  const auto final_path = root_ / "catalog" / (event.adapter_id + ".json");
  // Two threads (load events, the adapters table) may write one adapter's entry at once: each
  // writes its own temp file, in tmp/ (emptied at start, same file system), and the last
  // rename wins with a whole file either way.
  const auto temp = root_ / "tmp" / (event.adapter_id + ".json." + random_base62(8));
  if (auto st = write_synced(temp, schema::to_json(event)); !st) return st;
  std::error_code ec;
  fs::rename(temp, final_path, ec);
  if (ec) return io_error("rename " + temp.string(), ec);
  sync_dir(root_ / "catalog");
  return {};
}

void AdapterDisk::forget(const std::string& adapter_id) const {
  std::error_code ec;
  fs::remove(root_ / "catalog" / (adapter_id + ".json"), ec);
  sync_dir(root_ / "catalog");
}

bool AdapterDisk::remembers(const std::string& adapter_id) const {
  std::error_code ec;
  return fs::exists(root_ / "catalog" / (adapter_id + ".json"), ec);
}

std::string AdapterDisk::adapter_dir(const std::string& adapter_id) const {
  return (root_ / "adapters" / adapter_id).string();
}

Result<fs::path> AdapterDisk::temp_dir(const std::string& adapter_id) const {
  auto dir = root_ / "tmp" / (adapter_id + "." + random_base62(8));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return io_error("create " + dir.string(), ec).error();
  return dir;
}

Status AdapterDisk::install(const fs::path& temp, const std::string& adapter_id,
                            const std::string& config) const {
  if (auto st = write_synced(temp / kConfigFile, config); !st) return st;
  sync_dir(temp);
  const fs::path target = adapter_dir(adapter_id);
  std::error_code ec;
  fs::remove_all(target, ec);
  fs::rename(temp, target, ec);
  if (ec) return io_error("rename into " + target.string(), ec);
  sync_dir(root_ / "adapters");
  return {};
}

Status AdapterDisk::make_durable(const std::string& adapter_id) const {
  const fs::path dir = adapter_dir(adapter_id);
  const fs::path weights = dir / kWeightsFile;
  int fd = ::open(weights.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};  // removed (evicted, deleted) meanwhile
    return make_error(Errc::io, "open " + weights.string() + ": " + errno_text());
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return make_error(Errc::io, "fsync " + weights.string() + ": " + errno_text());
  std::error_code ec;
  if (auto st = write_synced(dir / kSyncedMarker, ""); !st)
    return fs::exists(dir, ec) ? st : Status{};
  sync_dir(dir);
  return {};
}

void AdapterDisk::remove_adapter(const std::string& adapter_id) const {
  std::error_code ec;
  // A make_durable() finishing at the same moment may add its marker while the directory is
  // being emptied (then its rmdir fails): try again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    fs::remove_all(adapter_dir(adapter_id), ec);
    if (!ec) return;
  }
  spdlog::warn("agent: removing {}: {}", adapter_dir(adapter_id), ec.message());
}

void AdapterDisk::remove_temp(const fs::path& temp) const {
  std::error_code ec;
  fs::remove_all(temp, ec);
}

std::string blob_url(std::string_view storage_url, std::string_view sha256) {
  std::string url(storage_url);
  if (url.ends_with(sha256)) return url;
  while (url.ends_with('/')) url.pop_back();
  return url + "/internal/v1/blobs/" + std::string(sha256);
}

}  // namespace loraplane::agent
