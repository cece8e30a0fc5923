// Entry points of the sub-commands.
#pragma once

#include <cstdint>
#include <string>

namespace loraplane::cmd {

struct UpOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string data_dir = "loraplane-data";
  std::string kafka;  // empty: embedded mock cluster
  std::string models;  // base-model catalog (ops/models.json)
};

void init(const std::string& log_level, bool log_json);
// Runs until SIGINT/SIGTERM; returns the process exit code.
int run_up(const UpOptions& options, bool all_roles);

}  // namespace loraplane::cmd
