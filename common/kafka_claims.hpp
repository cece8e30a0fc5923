// Claim checks for the embedded mock cluster. librdkafka's mock broker keeps at most 5 MiB per
// partition (older message sets are dropped), so an upload's chunks would be gone before the
// validate worker reads them. On a mock cluster the producer therefore writes each large
// loraplane.uploads value to a spool file and sends a small message carrying a
// `loraplane-claim` header instead; consumers and range readers of the same cluster swap the
// file's bytes back in. Real clusters never use this. Spool files older than the uploads
// topic's retention are removed; the spool starts empty, like the mock cluster.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/kafka.hpp"
#include "common/result.hpp"

namespace loraplane::kafka {

inline constexpr std::string_view kClaimHeader = "loraplane-claim";

class ClaimStore {
 public:
  // `dir` empty: a fresh directory under $TMPDIR, removed with the store.
  explicit ClaimStore(std::filesystem::path dir, std::chrono::seconds retention);
  ~ClaimStore();
  ClaimStore(const ClaimStore&) = delete;
  ClaimStore& operator=(const ClaimStore&) = delete;

  // Whether a value for `topic` of this size goes to the spool.
  static bool wanted(std::string_view topic, std::size_t size);
  Result<std::string> put(std::string_view bytes);  // the claim id
  Result<std::string> get(std::string_view id) const;
  // Replaces a claim message's value with the claimed bytes (no-op for other messages).
  void redeem(Message& message) const;

 private:
  void sweep_if_due();

  std::filesystem::path dir_;
  bool owned_ = false;
  std::chrono::seconds retention_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point next_sweep_;
};

}  // namespace loraplane::kafka
