// A loraplane deployment for the lifecycle suite: the gateway, a validate worker and a storage
// node as separate processes on the real broker named by LORAPLANE_KAFKA, under a topic prefix of
// their own (so suites sharing the broker never see each other's records), plus the HTTP calls a
// client makes and adapter files to upload.
#pragma once

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "test/support/broker.hpp"
#include "test/support/http_client.hpp"
#include "test/support/process.hpp"

namespace loraplane::lifecycle_test {

namespace lt = loraplane::test;
namespace json = boost::json;

inline const std::string kAdminToken = "lifecycle-admin-token-5678";

using loraplane::test::broker;
using loraplane::test::BrokerGiven;

struct Tenant {
  std::string id;
  std::string key;
};

using Fields = std::vector<std::pair<std::string, std::string>>;

class Deployment {
 public:
  Deployment();  // a fresh topic prefix and data dir; starts nothing
  ~Deployment();

  void start_gateway();
  void start_validate();
  void start_distribute();
  void start_all() {
    start_gateway();
    start_validate();
    start_distribute();
  }
  // kill -9, no goodbye.
  void kill_gateway();
  void kill_validate();

  std::uint16_t port() const { return port_; }
  const std::string& prefix() const { return prefix_; }
  // Everything the roles printed, for failure messages.
  std::string logs() const;
  lt::Process* validate() { return validate_.get(); }

  Tenant create_tenant(const std::string& name, const std::string& tier);
  lt::HttpResult upload(const std::string& key, const Fields& fields, const std::string& file);
  lt::HttpResult upload(const std::string& key, const std::string& name, const std::string& base,
                        const std::string& file) {
    return upload(key, {{"name", name}, {"base_model", base}}, file);
  }
  lt::HttpResult get(const std::string& key, const std::string& id);
  lt::HttpResult remove(const std::string& key, const std::string& id);
  lt::HttpResult list(const std::string& key, const std::string& query = {});
  // Every adapter of the tenant, walking the pages.
  std::vector<json::object> list_all(const std::string& key);
  // Polls GET until the adapter is ready or failed (or the timeout); returns the last body.
  json::object settle(const std::string& key, const std::string& id,
                      std::chrono::seconds timeout = std::chrono::seconds(90));

 private:
  std::unique_ptr<lt::Process> spawn(std::vector<std::string> args, const std::string& ready_line,
                                     std::string* line = nullptr);

  lt::TempDir dir_;
  std::string prefix_;
  std::unique_ptr<lt::Process> gateway_, validate_, distribute_;
  std::vector<std::string> past_logs_;  // of killed processes
  std::uint16_t port_ = 0;
};

json::object parse_object(const std::string& body);
std::string error_code_of(const lt::HttpResult& r);
std::string id_of(const lt::HttpResult& r);

// Adapter files. toy-llama: layer 0 q_proj at `rank`, F16 zeros (valid when in_dim is 64).
std::string toy_adapter(int rank, int in_dim = 64);
// llama-3.1-8b-instruct, every layer's q/k/v/o at `rank`, BF16; `seed` varies the bytes so
// each file has its own sha256.
std::string llama_8b_adapter(int rank, std::uint32_t seed);
std::string sha256_of(const std::string& bytes);

}  // namespace loraplane::lifecycle_test
