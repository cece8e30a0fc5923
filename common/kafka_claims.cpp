#include "common/kafka_claims.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "common/sha256.hpp"

namespace loraplane::kafka {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kThreshold = 64 * 1024;
constexpr auto kSweepEvery = std::chrono::minutes(5);

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

ClaimStore::ClaimStore(fs::path dir, std::chrono::seconds retention)
    : dir_(std::move(dir)), retention_(retention),
      next_sweep_(std::chrono::steady_clock::now() + kSweepEvery) {
  std::error_code ec;
  if (dir_.empty()) {
    std::string pattern = (fs::temp_directory_path() / "loraplane-spool-XXXXXX").string();
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("cannot create a spool directory");
    dir_ = buf.data();
    owned_ = true;
  } else {
    fs::remove_all(dir_, ec);  // the mock cluster starts empty; so does its spool
    fs::create_directories(dir_, ec);
    if (ec) throw std::runtime_error("cannot create spool " + dir_.string() + ": " + ec.message());
  }
}

ClaimStore::~ClaimStore() {
  std::error_code ec;
  if (owned_) fs::remove_all(dir_, ec);
}

bool ClaimStore::wanted(std::string_view topic, std::size_t size) {
  return topic == kUploads && size > kThreshold;
}

Result<std::string> ClaimStore::put(std::string_view bytes) {
  sweep_if_due();
  std::string id = random_base62(24);
  std::ofstream out(dir_ / id, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return make_error(Errc::io, "spool " + (dir_ / id).string() + ": write failed");
  return id;
}

Result<std::string> ClaimStore::get(std::string_view id) const {
  if (!valid_id(id)) return make_error(Errc::corrupt, "malformed claim id");
  std::ifstream in(dir_ / std::string(id), std::ios::binary);
  if (!in) return make_error(Errc::not_found, "claimed bytes " + std::string(id) + " are gone");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void ClaimStore::redeem(Message& message) const {
  const std::string* id = message.header(kClaimHeader);
  if (id == nullptr) return;
  auto bytes = get(*id);
  if (!bytes) {
    // Readers then see an empty chunk, and the upload fails its size and sha256 checks.
    spdlog::warn("kafka spool: {}", bytes.error().message);
    return;
  }
  message.value = std::move(bytes).value();
}

void ClaimStore::sweep_if_due() {
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now < next_sweep_) return;
    next_sweep_ = now + kSweepEvery;
  }
  const auto cutoff = fs::file_time_type::clock::now() - retention_;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::error_code entry_ec;
    if (entry.last_write_time(entry_ec) < cutoff && !entry_ec) fs::remove(entry.path(), entry_ec);
  }
}

}  // namespace loraplane::kafka
