// `loraplane admin`: a command-line client of the admin API (tenants, keys, fleet view).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace loraplane::cmd {

struct AdminCommand {
  CLI::App* app = nullptr;
  std::string api = "http://127.0.0.1:8080";
  std::string token;     // --token; else LORAPLANE_ADMIN_TOKEN; else <data-dir>/admin-token
  std::string data_dir = "loraplane-data";
  std::string name, tier = "shared", tenant_id, prefix;
  CLI::App* create_tenant = nullptr;
  CLI::App* create_key = nullptr;
  CLI::App* revoke_key = nullptr;
  CLI::App* delete_tenant = nullptr;
  CLI::App* engines = nullptr;
};

// Declares `admin` and its sub-commands on `app`.
void add_admin_command(CLI::App& app, AdminCommand& command);
// Runs the chosen sub-command: prints the answer's JSON on stdout; exit 0 on success, 1 when
// the server refused (its error message on stderr), 2 when it could not be reached.
int run_admin(const AdminCommand& command);

}  // namespace loraplane::cmd
