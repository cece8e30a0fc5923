// The topic catalogue every role expects (mirrored by ops/kafka/topics.tsv, checked by a unit
// test) and the small Message helpers that need no librdkafka.
#include <stdexcept>
#include <string>
#include <vector>

#include "common/kafka.hpp"

namespace loraplane::kafka {
namespace {

constexpr std::int64_t kHourMs = 3600LL * 1000;
constexpr std::int64_t kDayMs = 24 * kHourMs;
constexpr int kMiB = 1024 * 1024;

TopicSpec spec(std::string_view name, int partitions, bool compacted, std::int64_t retention_ms,
               int max_message_bytes) {
  return TopicSpec{std::string(name), partitions, compacted, retention_ms, max_message_bytes};
}

std::string& prefix_storage() {
  static std::string prefix;
  return prefix;
}

}  // namespace

void set_topic_prefix(std::string prefix) {
  if (prefix.size() > 64) throw std::invalid_argument("topic prefix longer than 64 characters");
  for (char c : prefix) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) throw std::invalid_argument("topic prefix may only hold [A-Za-z0-9._-]");
  }
  prefix_storage() = std::move(prefix);
}

const std::string& topic_prefix() { return prefix_storage(); }

std::string prefixed(std::string_view name) { return prefix_storage() + std::string(name); }

std::string_view unprefixed(std::string_view name) {
  const auto& prefix = prefix_storage();
  if (!prefix.empty() && name.starts_with(prefix)) name.remove_prefix(prefix.size());
  return name;
}

std::vector<TopicSpec> default_topics() {
  // Uploads hold chunks (<= 1 MiB plus headers) only until they are assembled into a blob, so a
  // day bounds the disk they use. Jobs keep a week for replay and audit. Keys: tenant id for
  // jobs (per-tenant order), adapter id for the compacted state topics. load-events is a
  // broadcast read by every instance as a table reader, so one partition keeps it ordered.
  return {
      spec(kUploads, 8, false, kDayMs, 2 * kMiB),
      spec(kJobs, 8, false, 7 * kDayMs, kMiB),
      spec(kAdapters, 8, true, 0, kMiB),
      spec(kLoadEvents, 1, false, kDayMs, kMiB),
      spec(kResidency, 1, true, 0, kMiB),
      spec(kTenants, 1, true, 0, kMiB),
  };
}

const std::string* Message::header(std::string_view name) const {
  // Last one wins, as with HTTP-style repeated headers where the newest value overrides.
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->key == name) return &it->value;
  }
  return nullptr;
}

}  // namespace loraplane::kafka
