// Reading an adapter directory the way vLLM's add_lora does, with vLLM's messages: a missing
// directory or adapter_config.json is "No adapter found" (the API answers 404); a config vLLM
// refuses (missing fields, DoRA, modules_to_save, bias, rank above --max-lora-rank), no weights
// file, or a corrupt safetensors header is a plain failure (400). Sizes come from the files, so
// the simulated load time follows the real bytes.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.hpp"

namespace loraplane::sim_engine {

struct AdapterFiles {
  int rank = 0;
  std::uint64_t bytes = 0;  // weights file size
};

// Errc::not_found or Errc::invalid_argument; the message is vLLM's engine message without the
// "Call to add_lora method failed: " prefix its V1 engine client adds.
Result<AdapterFiles> read_adapter_dir(const std::string& lora_name, const std::string& lora_path,
                                      int max_lora_rank);

// The safetensors header and size checks (schema/adapter) on the file at `path` of `file_size`
// bytes, failing with "Error while deserializing header: <why>". Exposed for tests.
Status check_safetensors(const std::string& path, std::uint64_t file_size);

}  // namespace loraplane::sim_engine
