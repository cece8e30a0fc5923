#include "cmd/admin.hpp"

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/http.hpp"
#include "common/http_call.hpp"
#include "schema/json.hpp"

namespace loraplane::cmd {

namespace {

std::string resolve_token(const AdminCommand& c) {
  if (!c.token.empty()) return c.token;
  if (const char* env = std::getenv("LORAPLANE_ADMIN_TOKEN"); env && *env) return env;
  std::ifstream in(std::filesystem::path(c.data_dir) / "admin-token");
  std::string token;
  std::getline(in, token);
  return token;
}

// The OpenAI-shape error message of an answer, or the body itself when it has none.
std::string error_message(const std::string& body) {
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (!ec && value.is_object()) {
    if (auto* error = value.as_object().if_contains("error"); error && error->is_object()) {
      if (auto* message = error->as_object().if_contains("message"); message && message->is_string())
        return std::string(message->as_string());
    }
  }
  return body;
}

}  // namespace

void add_admin_command(CLI::App& app, AdminCommand& c) {
  c.app = app.add_subcommand("admin", "administer tenants, API keys and see the engine fleet");
  c.app->require_subcommand(1);
  c.app->add_option("--api", c.api, "gateway base url")->capture_default_str();
  c.app->add_option("--token", c.token,
                    "admin token (default: $LORAPLANE_ADMIN_TOKEN, else <data-dir>/admin-token)");
  c.app->add_option("--data-dir", c.data_dir, "data dir of `loraplane up` holding admin-token")
      ->capture_default_str();

  c.create_tenant = c.app->add_subcommand("create-tenant", "create a tenant; prints its first API key");
  c.create_tenant->add_option("name", c.name, "tenant name")->required();
  c.create_tenant->add_option("--tier", c.tier, "shared|reserved|dedicated")
      ->check(CLI::IsMember({"shared", "reserved", "dedicated"}))
      ->capture_default_str();
  c.create_key = c.app->add_subcommand("create-key", "issue another API key for a tenant");
  c.create_key->add_option("tenant_id", c.tenant_id, "tenant id")->required();
  c.revoke_key = c.app->add_subcommand("revoke-key", "revoke an API key by its prefix");
  c.revoke_key->add_option("prefix", c.prefix, "key prefix (pk-prov-…, first 16 characters)")
      ->required();
  c.delete_tenant = c.app->add_subcommand(
      "delete-tenant", "delete a tenant: its keys stop working and its adapters are deleted");
  c.delete_tenant->add_option("tenant_id", c.tenant_id, "tenant id")->required();
  c.engines = c.app->add_subcommand("engines", "the fleet as the router sees it");
}

int run_admin(const AdminCommand& c) {
  auto endpoint = http::parse_http_url(c.api);
  if (!endpoint) {
    std::fprintf(stderr, "loraplane admin: --api: %s\n", endpoint.error().message.c_str());
    return 2;
  }
  const std::string token = resolve_token(c);
  if (token.empty()) {
    std::fprintf(stderr,
                 "loraplane admin: no admin token: pass --token, set LORAPLANE_ADMIN_TOKEN or "
                 "point --data-dir at the data dir of `loraplane up`\n");
    return 2;
  }
  std::string method = "POST", target, body;
  if (*c.create_tenant) {
    target = "/admin/v1/tenants";
    schema::CreateTenantRequest request;
    request.name = c.name;
    request.tier = *schema::parse_tier(c.tier);
    body = schema::to_json(request);
  } else if (*c.create_key) {
    target = "/admin/v1/tenants/" + c.tenant_id + "/keys";
  } else if (*c.revoke_key) {
    method = "DELETE";
    target = "/admin/v1/keys/" + c.prefix;
  } else if (*c.delete_tenant) {
    method = "DELETE";
    target = "/admin/v1/tenants/" + c.tenant_id;
  } else {
    method = "GET";
    target = "/admin/v1/engines";
  }
  // Ids and prefixes go into the path: refuse anything that would change its shape.
  for (const auto* part : {&c.tenant_id, &c.prefix}) {
    if (part->find_first_of("/?#% ") != std::string::npos) {
      std::fprintf(stderr, "loraplane admin: '%s' is not a valid id or prefix\n", part->c_str());
      return 2;
    }
  }
  auto answer = http::call(*endpoint, method, target, body, {{"authorization", "Bearer " + token}});
  if (!answer) {
    std::fprintf(stderr, "loraplane admin: %s\n", answer.error().message.c_str());
    return 2;
  }
  if (answer->status / 100 != 2) {
    std::fprintf(stderr, "loraplane admin: %d: %s\n", answer->status,
                 error_message(answer->body).c_str());
    return 1;
  }
  std::fwrite(answer->body.data(), 1, answer->body.size(), stdout);
  if (answer->body.empty() || answer->body.back() != '\n') std::fputc('\n', stdout);
  return 0;
}

}  // namespace loraplane::cmd
