// The manifest of `loraplane import`: one adapter per JSON line (.jsonl) or CSV row (.csv with a
// header row). An entry is a file upload {name, base_model, file, config?, lora_alpha?} or a
// Hugging Face import {name, base_model, repo, revision?, hf_token?}; relative paths are taken
// from the manifest's directory.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace loraplane::cmd::import {

struct Entry {
  std::size_t line = 0;  // 1-based line of the manifest, for messages
  std::string name;
  std::string base_model;
  std::optional<std::string> file;    // absolute or relative to the manifest
  std::optional<std::string> config;  // adapter_config.json to send with the file
  std::optional<std::string> lora_alpha;
  std::optional<std::string> repo;
  std::string revision = "main";
  std::optional<std::string> hf_token;
};

inline constexpr std::size_t kMaxEntries = 100'000;

// Errc::invalid_argument naming the line and field at fault: unreadable file, unknown format,
// a line that is not an object, a missing name/base_model, neither or both of file and repo,
// an unknown CSV column, duplicate name+base_model entries.
Result<std::vector<Entry>> read_manifest(const std::string& path);

}  // namespace loraplane::cmd::import
