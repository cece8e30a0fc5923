// Which blob this node holds for which adapter (adapter id → sha256), mirrored in the Db's meta
// table so that a restarted node knows the references it must drop for adapters that were
// deleted (or compacted away) while it was down. The blob store's own references are the truth
// for GC; this index is what lets the node find its own again. Used by one thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "storage/db.hpp"

namespace loraplane::distribute {

inline constexpr std::string_view kRefKeyPrefix = "distribute/ref/";

class RefIndex {
 public:
  explicit RefIndex(storage::Db& db) : db_(db) {}
  Status load();
  std::optional<std::string> get(std::string_view adapter_id) const;
  // Recorded before the blob store reference is added, removed after it is dropped: a crash in
  // between leaves an index entry whose (idempotent) removal is simply repeated.
  Status put(const std::string& adapter_id, const std::string& sha256);
  Status erase(const std::string& adapter_id);
  std::vector<std::string> adapters() const;

 private:
  storage::Db& db_;
  std::map<std::string, std::string, std::less<>> refs_;
};

}  // namespace loraplane::distribute
