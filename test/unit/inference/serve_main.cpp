// inference_stack_server: the in-process inference stack of this suite (gateway on the mock
// cluster, one simulated engine, the fake agent) kept running for an outside client — the
// Python conformance test with the official openai SDK. It prints one line
// `STACK {"base_url","api_key","other_api_key",...}` once ready and serves until stdin closes.
#define BOOST_TEST_MODULE inference_stack_server
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <iostream>

#include "test/unit/inference/stack.hpp"

namespace it = loraplane::inference_test;

BOOST_AUTO_TEST_CASE(serve) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto globex = s.create_tenant("globex");
  auto resident = s.add_adapter(acme, "support-v3");
  s.load_in_engine(resident);
  s.add_adapter(acme, "cold-one");  // loaded through the fake agent's ensure on first use
  s.add_adapter(acme, "in-review", loraplane::schema::AdapterStatus::validating);
  s.add_adapter(globex, "secret");
  s.publish_residency({resident});
  boost::json::object info{{"base_url", "http://127.0.0.1:" + std::to_string(s.port()) + "/v1"},
                           {"api_key", acme.key},
                           {"other_api_key", globex.key},
                           {"tenant_id", acme.id},
                           {"base", it::kBase},
                           {"admin_token", it::kAdminToken}};
  std::cout << "STACK " << boost::json::serialize(info) << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
}
