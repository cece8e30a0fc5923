// The agent's local files under <data-dir>:
//   catalog/<adapter_id>.json  the adapter.ready event (what the agent knows, survives restarts)
//   adapters/<adapter_id>/     what vLLM loads: adapter_model.safetensors + adapter_config.json
//   tmp/                       downloads in progress, renamed into adapters/ when verified
// A directory under adapters/ exists only complete (atomic rename), so a crash leaves either
// the whole adapter or nothing but tmp/ debris, cleared at start.
// The weights are not fsync'ed before the engine loads them (the write-out would double a cold
// hot-load); make_durable() does it afterwards and then writes the marker file `.synced`. A dir
// without the marker at start-up may hold weights a crash cut short: scan() checks their size
// and sha256 against the catalog and removes the dir when they differ.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "schema/types.hpp"

namespace loraplane::agent {

inline constexpr std::string_view kWeightsFile = "adapter_model.safetensors";
inline constexpr std::string_view kConfigFile = "adapter_config.json";
inline constexpr std::string_view kSyncedMarker = ".synced";

struct OnDisk {
  std::uint64_t bytes = 0;
  std::filesystem::file_time_type modified;
};

struct DiskScan {
  std::vector<schema::LoadEvent> known;   // catalog entries of this base model
  std::map<std::string, OnDisk> present;  // complete adapter dirs of known adapters
  std::vector<std::string> removed;       // dirs dropped: unknown, incomplete or corrupt
};

class AdapterDisk {
 public:
  explicit AdapterDisk(std::filesystem::path root);
  const std::filesystem::path& root() const { return root_; }

  // Creates the directories and empties tmp/. Startup.
  Status prepare() const;
  // Reads the catalog and the adapter dirs; removes dirs that are not a known adapter of
  // `base_model`, lack a file, or (not yet durable) hold weights other than the catalog's size
  // and sha256; the others are made durable. Catalog files of other bases are left alone.
  DiskScan scan(std::string_view base_model) const;

  // Catalog (written by the Kafka consumer thread before its offset is committed).
  Status remember(const schema::LoadEvent& event) const;  // atomic replace
  void forget(const std::string& adapter_id) const;
  bool remembers(const std::string& adapter_id) const;

  std::string adapter_dir(const std::string& adapter_id) const;
  // A fresh directory under tmp/ for one download.
  Result<std::filesystem::path> temp_dir(const std::string& adapter_id) const;
  // Writes adapter_config.json into `temp` (which holds the verified weights), syncs, and
  // renames it to adapters/<id> (replacing a stale one).
  Status install(const std::filesystem::path& temp, const std::string& adapter_id,
                 const std::string& config) const;
  // fsyncs the installed weights, then writes the `.synced` marker. A dir removed meanwhile is
  // not an error.
  Status make_durable(const std::string& adapter_id) const;
  void remove_adapter(const std::string& adapter_id) const;
  void remove_temp(const std::filesystem::path& temp) const;

 private:
  std::filesystem::path root_;
};

// Where a storage url serves the blob: urls already naming the sha (what distribute workers
// advertise, ".../internal/v1/blobs/<sha>") as they are, a bare node base + the blob route.
std::string blob_url(std::string_view storage_url, std::string_view sha256);

}  // namespace loraplane::agent
