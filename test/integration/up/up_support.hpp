// Shared by the `loraplane up` suites: the binary on a free port, tenants, toy adapters and
// uploads over HTTP.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "test/support/http_client.hpp"
#include "test/support/process.hpp"

namespace loraplane::test::up {

namespace lt = loraplane::test;
namespace json = boost::json;

inline const std::string kAdminToken = "test-admin-token-1234";

std::map<std::string, std::string> bearer(const std::string& token);
json::object parse_object(const std::string& body);
std::string error_code_of(const lt::HttpResult& r);

// `loraplane up --port 0` with the test admin token, ready when constructed. The data dir is
// `data_dir` if given (to restart on the same state), else a fresh one owned by this object.
struct Running {
  lt::TempDir own_dir;
  std::string data_dir;
  std::unique_ptr<lt::Process> process;
  std::uint16_t port = 0;

  explicit Running(std::vector<std::string> extra_args = {}, std::string dir = {},
                   std::vector<std::string> extra_env = {});
};

json::object create_tenant(std::uint16_t port, const std::string& name, const std::string& tier);
// A toy-llama adapter: q_proj of layer 0 at rank `rank`, F16 zeros; valid when in_dim is 64.
std::string toy_adapter(int rank, int in_dim = 64);
// POST /v1/adapters/upload with these form fields and the file part.
lt::HttpResult upload(std::uint16_t port, const std::string& key,
                      const std::vector<std::pair<std::string, std::string>>& fields,
                      const std::string& file);
// Polls GET /v1/adapters/{id} until ready or failed (60 s at most); returns the last answer.
json::object settle(std::uint16_t port, const std::string& key, const std::string& id);

}  // namespace loraplane::test::up
