// Every answer of the adapters API, over HTTP, with the gateway, the validate worker and a
// storage node as separate processes on the real broker: 202 then ready (or failed naming the
// tensor), 401, 400 name syntax, 404 model_not_found, 400 embedding base, 409 adapter_exists,
// 403 adapter_limit_reached, 422 invalid_adapter (bad header, rank > 64), 413, list paging,
// tenant isolation, delete → the name is free again.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "test/integration/lifecycle/deployment.hpp"

using namespace loraplane::lifecycle_test;
using namespace std::chrono_literals;

namespace {

// One deployment for the cases of this file (starting three processes costs seconds).
Deployment& shared() {
  static std::unique_ptr<Deployment> d;
  if (!d) {
    auto started = std::make_unique<Deployment>();
    started->start_all();  // throws on failure: the next case tries again
    d = std::move(started);
  }
  return *d;
}

// Sends only the request head of an upload that declares `content_length` body bytes and reads
// the answer: an over-limit upload must be refused before its body is sent.
int status_for_declared_length(std::uint16_t port, const std::string& key,
                               std::uint64_t content_length) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string head =
      "POST /v1/adapters/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Authorization: Bearer " +
      key +
      "\r\nContent-Type: multipart/form-data; boundary=xyz\r\n"
      "Content-Length: " +
      std::to_string(content_length) +
      "\r\n\r\n"
      "--xyz\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nhuge\r\n";
  BOOST_REQUIRE(::send(fd, head.data(), head.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(head.size()));
  std::string answer;
  char buf[4096];
  while (answer.find("\r\n") == std::string::npos) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  BOOST_TEST_MESSAGE("answer to a declared " << content_length << "-byte upload: "
                                             << answer.substr(0, answer.find("\r\n")));
  if (!answer.starts_with("HTTP/1.1 ")) return 0;
  return std::atoi(answer.c_str() + 9);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(status_codes, *boost::unit_test::precondition(BrokerGiven()))

BOOST_AUTO_TEST_CASE(accepted_uploads_end_ready_or_failed) {
  auto& d = shared();
  auto t = d.create_tenant("acme", "shared");
  const auto file = toy_adapter(16);
  auto ok = d.upload(t.key, "good", "toy-llama", file);
  BOOST_TEST_REQUIRE(ok.status == 202, ok.body);
  auto accepted = parse_object(ok.body);
  BOOST_TEST(accepted["object"].as_string() == "adapter");
  BOOST_TEST(accepted["status"].as_string() == "pending");
  BOOST_TEST(accepted["size_bytes"].as_int64() == static_cast<std::int64_t>(file.size()));
  BOOST_TEST(accepted["sha256"].as_string() == sha256_of(file));
  // Passes the gateway's header checks, fails the worker's shape check against toy-llama.
  auto bad = d.upload(t.key, "bad-shape", "toy-llama", toy_adapter(8, 32));
  BOOST_TEST_REQUIRE(bad.status == 202, bad.body);

  auto ready = d.settle(t.key, id_of(ok));
  BOOST_TEST_REQUIRE(ready["status"].as_string() == "ready", d.logs());
  BOOST_TEST(ready["rank"].as_int64() == 16);
  BOOST_TEST(json::serialize(ready["target_modules"]) == R"(["q_proj"])");
  BOOST_TEST(ready["sha256"].as_string() == sha256_of(file));
  auto failed = d.settle(t.key, id_of(bad));
  BOOST_TEST_REQUIRE(failed["status"].as_string() == "failed", d.logs());
  auto& error = failed["error"].as_object();
  BOOST_TEST(error["code"].as_string() == "invalid_adapter");
  BOOST_TEST(std::string(error["message"].as_string()).find("q_proj.lora_A.weight") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(early_rejections_answer_at_once) {
  auto& d = shared();
  auto t = d.create_tenant("early", "reserved");
  const auto file = toy_adapter(8);
  BOOST_TEST_REQUIRE(d.upload(t.key, "taken", "toy-llama", file).status == 202);

  auto no_key = d.upload("pk-prov-nope", "x", "toy-llama", file);
  BOOST_TEST(no_key.status == 401);
  BOOST_TEST(error_code_of(no_key) == "invalid_api_key");
  auto bad_name = d.upload(t.key, "no spaces", "toy-llama", file);
  BOOST_TEST(bad_name.status == 400);
  BOOST_TEST(parse_object(bad_name.body)["error"].as_object()["param"].as_string() == "name");
  BOOST_TEST(d.upload(t.key, std::string(65, 'n'), "toy-llama", file).status == 400);
  BOOST_TEST(d.upload(t.key, std::string(64, 'n'), "toy-llama", file).status == 202);
  auto unknown_base = d.upload(t.key, "x", "gpt-17", file);
  BOOST_TEST(unknown_base.status == 404);
  BOOST_TEST(error_code_of(unknown_base) == "model_not_found");
  auto embedding = d.upload(t.key, "x", "bge-m3", file);
  BOOST_TEST(embedding.status == 400);
  BOOST_TEST(embedding.body.find("embedding") != std::string::npos);
  auto dup = d.upload(t.key, "taken", "toy-llama", file);
  BOOST_TEST(dup.status == 409);
  BOOST_TEST(error_code_of(dup) == "adapter_exists");
  // The same name on another base model is another adapter.
  BOOST_TEST(d.upload(t.key, "taken", "llama-3.1-8b-instruct", llama_8b_adapter(4, 1)).status ==
             202);

  std::string garbage = std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{\"not\":";
  garbage.resize(4096, 'x');
  auto bad_header = d.upload(t.key, "garbage", "toy-llama", garbage);
  BOOST_TEST(bad_header.status == 422);
  BOOST_TEST(error_code_of(bad_header) == "invalid_adapter");
  auto not_json =
      d.upload(t.key, "garbage", "toy-llama",
               std::string("\x10\0\0\0\0\0\0\0", 8) + "this is not json" + std::string(64, '\0'));
  BOOST_TEST(not_json.status == 422);
  // A lora_alpha the job's JSON cannot carry: refused, not accepted and left pending forever.
  for (const char* alpha : {"inf", "-INF", "infinity", "nan", "0", "-1", "1e999"}) {
    auto bad_alpha = d.upload(t.key, {{"name", "alpha"}, {"base_model", "toy-llama"},
                                      {"lora_alpha", alpha}},
                              toy_adapter(8));
    BOOST_TEST(bad_alpha.status == 400, "lora_alpha=" << alpha << ": " << bad_alpha.body);
    BOOST_TEST(bad_alpha.body.find("lora_alpha") != std::string::npos);
  }
  auto rank = d.upload(t.key, "big-rank", "toy-llama", toy_adapter(128));
  BOOST_TEST(rank.status == 422);
  BOOST_TEST(error_code_of(rank) == "invalid_adapter");
  BOOST_TEST(rank.body.find("rank 128") != std::string::npos);
  // 500 MB is the limit (MB = 10^6 bytes): a body declared larger is refused before it is sent.
  BOOST_TEST(status_for_declared_length(d.port(), t.key, 600'000'000) == 413);

  // None of the refused uploads left an adapter behind.
  std::vector<std::string> names;
  for (auto& a : d.list_all(t.key)) names.emplace_back(a["name"].as_string());
  std::sort(names.begin(), names.end());
  const std::vector<std::string> expected = {std::string(64, 'n'), "taken", "taken"};
  BOOST_TEST(names == expected, boost::test_tools::per_element());
  // The gateway is still serving.
  BOOST_TEST(lt::http_request(d.port(), "GET", "/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(tier_adapter_count_is_enforced) {
  auto& d = shared();
  auto t = d.create_tenant("quota", "shared");  // shared tier: 20 adapters
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    auto r = d.upload(t.key, "q" + std::to_string(i), "toy-llama", toy_adapter(4 + i % 4));
    BOOST_TEST_REQUIRE(r.status == 202, r.body);
    ids.push_back(id_of(r));
  }
  auto over = d.upload(t.key, "q20", "toy-llama", toy_adapter(4));
  BOOST_TEST(over.status == 403);
  BOOST_TEST(error_code_of(over) == "adapter_limit_reached");
  // The validate worker's authoritative count agrees: all 20 become ready.
  for (const auto& id : ids) BOOST_TEST(d.settle(t.key, id)["status"].as_string() == "ready");
  // Deleting one frees a slot.
  BOOST_TEST_REQUIRE(d.remove(t.key, ids.front()).status == 200);
  auto again = d.upload(t.key, "q20", "toy-llama", toy_adapter(4));
  BOOST_TEST_REQUIRE(again.status == 202, again.body);
  BOOST_TEST(d.settle(t.key, id_of(again))["status"].as_string() == "ready", d.logs());
}

BOOST_AUTO_TEST_CASE(list_pages_newest_first) {
  auto& d = shared();
  auto t = d.create_tenant("pager", "shared");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto r = d.upload(t.key, "p" + std::to_string(i), "toy-llama", toy_adapter(4));
    BOOST_TEST_REQUIRE(r.status == 202, r.body);
    ids.push_back(id_of(r));
  }
  std::vector<std::string> seen;
  std::vector<bool> has_more;
  std::string after;
  for (int page = 0; page < 5; ++page) {
    auto r = d.list(t.key, "?limit=2" + (after.empty() ? "" : "&after=" + after));
    BOOST_TEST_REQUIRE(r.status == 200, r.body);
    auto body = parse_object(r.body);
    BOOST_TEST(body["object"].as_string() == "list");
    for (auto& a : body["data"].as_array()) seen.emplace_back(a.as_object()["id"].as_string());
    has_more.push_back(body["has_more"].as_bool());
    if (!has_more.back()) break;
    after = seen.back();
  }
  const std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
  BOOST_TEST(seen == newest_first, boost::test_tools::per_element());
  const std::vector<bool> pages = {true, true, false};
  BOOST_TEST(has_more == pages, boost::test_tools::per_element());
  BOOST_TEST(d.list(t.key, "?limit=0").status == 400);
  BOOST_TEST(d.list(t.key, "?limit=101").status == 400);
  BOOST_TEST(d.list("pk-prov-nope").status == 401);
}

BOOST_AUTO_TEST_CASE(another_tenants_adapter_is_not_found) {
  auto& d = shared();
  auto owner = d.create_tenant("owner", "shared");
  auto rival = d.create_tenant("rival", "shared");
  auto r = d.upload(owner.key, "mine", "toy-llama", toy_adapter(8));
  BOOST_TEST_REQUIRE(r.status == 202, r.body);
  const auto id = id_of(r);
  BOOST_TEST(d.settle(owner.key, id)["status"].as_string() == "ready");

  auto foreign = d.get(rival.key, id);
  auto missing = d.get(rival.key, "adp_000000000nothing");
  BOOST_TEST(foreign.status == 404);
  BOOST_TEST(error_code_of(foreign) == "adapter_not_found");
  BOOST_TEST(foreign.body == missing.body);
  BOOST_TEST(d.remove(rival.key, id).status == 404);
  BOOST_TEST(d.list_all(rival.key).empty());
  // The rival's attempts changed nothing, and the same name is free for the rival.
  BOOST_TEST(d.get(owner.key, id).status == 200);
  BOOST_TEST(d.upload(rival.key, "mine", "toy-llama", toy_adapter(8)).status == 202);
}

BOOST_AUTO_TEST_CASE(delete_frees_the_name_at_once) {
  auto& d = shared();
  auto t = d.create_tenant("deleter", "shared");
  auto first = d.upload(t.key, "reuse-me", "toy-llama", toy_adapter(8));
  BOOST_TEST_REQUIRE(first.status == 202, first.body);
  const auto id = id_of(first);
  BOOST_TEST_REQUIRE(d.settle(t.key, id)["status"].as_string() == "ready");

  auto deleted = d.remove(t.key, id);
  BOOST_TEST_REQUIRE(deleted.status == 200, deleted.body);
  auto body = parse_object(deleted.body);
  BOOST_TEST(body["id"].as_string() == id);
  BOOST_TEST(body["object"].as_string() == "adapter.deleted");
  BOOST_TEST(body["deleted"].as_bool());
  BOOST_TEST(d.get(t.key, id).status == 404);
  BOOST_TEST(d.list_all(t.key).empty());
  BOOST_TEST(d.remove(t.key, id).status == 404);

  auto second = d.upload(t.key, "reuse-me", "toy-llama", toy_adapter(16));
  BOOST_TEST_REQUIRE(second.status == 202, second.body);
  BOOST_TEST(id_of(second) != id);
  auto ready = d.settle(t.key, id_of(second));
  BOOST_TEST(ready["status"].as_string() == "ready", d.logs());
  BOOST_TEST(ready["rank"].as_int64() == 16);
  // Still gone after the worker processed the delete.
  BOOST_TEST(d.get(t.key, id).status == 404);
  BOOST_TEST(d.list_all(t.key).size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
