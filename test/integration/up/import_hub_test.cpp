// Hugging Face imports (POST /v1/adapters) through `up`, against a Hub stand-in on loopback
// (HF_ENDPOINT): resolution to a commit, the file store redirect, private and gated repos,
// missing revisions and files, .bin-only repos, an oversized config, a dropped or stalled
// download resumed with Range, bytes corrupted on the way, a busy Hub asked again.
#include <boost/test/unit_test.hpp>

#include <string_view>
#include <thread>

#include "test/integration/up/up_support.hpp"
#include "test/support/fake_hub.hpp"

using namespace loraplane::test::up;
using namespace std::chrono_literals;

namespace {

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";
const std::string kConfig =
    R"({"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":["q_proj"]})";

lt::FakeHub::Repo repo_with(std::string weights, std::optional<std::string> token = {},
                            bool gated = false) {
  lt::FakeHub::Repo r;
  r.commit = kCommit;
  r.files = {{"adapter_config.json", kConfig}, {"adapter_model.safetensors", std::move(weights)}};
  r.token = std::move(token);
  r.gated = gated;
  return r;
}

lt::HttpResult import(std::uint16_t port, const std::string& key, const std::string& name,
                      const std::string& repo, const std::string& extra = "") {
  return lt::http_request(port, "POST", "/v1/adapters",
                          R"({"name":")" + name + R"(","base_model":"toy-llama","repo":")" + repo +
                              "\"" + extra + "}",
                          bearer(key));
}

// 202, then the settled adapter.
json::object imported(std::uint16_t port, const std::string& key, const std::string& name,
                      const std::string& repo, const std::string& extra = "") {
  auto r = import(port, key, name, repo, extra);
  BOOST_TEST_REQUIRE(r.status == 202, r.body);
  auto adapter = parse_object(r.body);
  BOOST_TEST(adapter["status"].as_string() == "pending");
  BOOST_TEST(adapter["source"].as_object()["repo"].as_string() == repo);
  return settle(port, key, std::string(adapter["id"].as_string()));
}

// The partition of loraplane.jobs (8 partitions) a tenant's jobs go to: the gateway's producer
// uses librdkafka's murmur2 partitioner (Kafka's Java one) over the key, the tenant id.
int jobs_partition(std::string_view key) {
  constexpr std::uint32_t m = 0x5bd1e995;
  const auto n = static_cast<std::uint32_t>(key.size());
  std::uint32_t h = 0x9747b28cu ^ n;
  auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(key[i])); };
  std::size_t i = 0;
  for (; i + 4 <= key.size(); i += 4) {
    std::uint32_t k = byte(i) | byte(i + 1) << 8 | byte(i + 2) << 16 | byte(i + 3) << 24;
    k *= m;
    k ^= k >> 24;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (key.size() - i) {
    case 3: h ^= byte(i + 2) << 16; [[fallthrough]];
    case 2: h ^= byte(i + 1) << 8; [[fallthrough]];
    case 1: h ^= byte(i); h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int>((h & 0x7fffffff) % 8);
}

std::string error_code(json::object& adapter) {
  return adapter.contains("error") ? std::string(adapter["error"].as_object()["code"].as_string())
                                   : std::string("(none)");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hub_import)

BOOST_AUTO_TEST_CASE(imports_public_private_and_gated_repos) {
  lt::FakeHub hub;
  const std::string weights = toy_adapter(8);
  hub.add("acme/public", repo_with(weights));
  hub.add("acme/private", repo_with(weights, "hf_secret_token_123"));
  hub.add("acme/gated", repo_with(weights, "hf_secret_token_123", true));
  auto bin_only = repo_with(weights);
  bin_only.files.erase("adapter_model.safetensors");
  bin_only.files["adapter_model.bin"] = "pickle";
  hub.add("acme/bin-only", bin_only);
  auto huge_config = repo_with(weights);
  huge_config.files["adapter_config.json"] = kConfig.substr(0, kConfig.size() - 1) +
                                             R"(,"notes":")" + std::string(70000, 'x') + "\"}";
  hub.add("acme/huge-config", huge_config);
  Running up({}, {}, {"HF_ENDPOINT=" + hub.endpoint()});
  std::string key(create_tenant(up.port, "hubber", "reserved")["api_key"].as_string());

  auto ok = imported(up.port, key, "pub", "acme/public");
  BOOST_TEST_REQUIRE(ok["status"].as_string() == "ready", json::serialize(ok));
  BOOST_TEST(ok["source"].as_object()["commit_sha"].as_string() == kCommit);
  BOOST_TEST(ok["rank"].as_int64() == 8);
  BOOST_TEST(ok["size_bytes"].as_int64() == static_cast<std::int64_t>(weights.size()));

  auto no_token = imported(up.port, key, "priv-1", "acme/private");
  BOOST_TEST(no_token["status"].as_string() == "failed");
  BOOST_TEST(error_code(no_token) == "repo_not_found");
  auto with_token = imported(up.port, key, "priv-2", "acme/private",
                             R"(,"hf_token":"hf_secret_token_123")");
  BOOST_TEST(with_token["status"].as_string() == "ready", json::serialize(with_token));
  auto gated = imported(up.port, key, "gated", "acme/gated");
  BOOST_TEST(error_code(gated) == "repo_gated");
  auto wrong_rev = imported(up.port, key, "rev", "acme/public", R"(,"revision":"v9")");
  BOOST_TEST(error_code(wrong_rev) == "revision_not_found");
  auto bin = imported(up.port, key, "bin", "acme/bin-only");
  BOOST_TEST(error_code(bin) == "unsupported_format");
  BOOST_TEST(std::string(bin["error"].as_object()["message"].as_string()).find("adapter_model.bin") !=
             std::string::npos);
  // A config over 64 KiB is a bad adapter, not a too-large one.
  auto big_config = imported(up.port, key, "big-config", "acme/huge-config");
  BOOST_TEST(error_code(big_config) == "invalid_adapter", json::serialize(big_config));
  BOOST_TEST(std::string(big_config["error"].as_object()["message"].as_string())
                     .find("adapter_config.json") != std::string::npos);

  // The token went to the Hub's API only, never to the file store on the other host, and
  // never into the logs.
  bool token_seen = false;
  for (const auto& r : hub.requests()) {
    if (r.target.starts_with("/cdn/")) BOOST_TEST(r.authorization.empty(), r.target);
    if (r.authorization == "Bearer hf_secret_token_123") token_seen = true;
  }
  BOOST_TEST(token_seen);
  BOOST_TEST(up.process->output().find("hf_secret_token_123") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_dropped_download_resumes_where_it_stopped) {
  lt::FakeHub hub;
  const std::string weights = toy_adapter(8);  // ~ 2.3 kB
  hub.add("acme/big", repo_with(weights));
  hub.drop_once_after(1000);
  Running up({}, {}, {"HF_ENDPOINT=" + hub.endpoint()});
  std::string key(create_tenant(up.port, "resumer", "shared")["api_key"].as_string());
  auto ok = imported(up.port, key, "big", "acme/big");
  BOOST_TEST_REQUIRE(ok["status"].as_string() == "ready", json::serialize(ok));
  BOOST_TEST(ok["size_bytes"].as_int64() == static_cast<std::int64_t>(weights.size()));
  bool resumed = false;
  std::string seen;
  for (const auto& r : hub.requests()) {
    seen += r.method + " " + r.target + " range=" + r.range + "\n";
    if (r.target.starts_with("/cdn/") && r.range == "bytes=1000-") resumed = true;
  }
  BOOST_TEST(resumed, seen << up.process->output());

  // Bytes changed on the way no longer match the sha256 the Hub names for the file.
  hub.corrupt_once_at(1500);
  auto corrupted = imported(up.port, key, "big-2", "acme/big");
  BOOST_TEST(corrupted["status"].as_string() == "failed", json::serialize(corrupted));
  BOOST_TEST(error_code(corrupted) == "checksum_mismatch", json::serialize(corrupted));
}

BOOST_AUTO_TEST_CASE(a_stalled_download_times_out_and_resumes) {
  lt::FakeHub hub;
  const std::string weights = toy_adapter(8);
  hub.add("acme/stuck", repo_with(weights));
  hub.stall_once_after(1000);  // then silent, the connection left open
  Running up({}, {},
             {"HF_ENDPOINT=" + hub.endpoint(), "LORAPLANE_HUB_TIMEOUT_MS=1000",
              "LORAPLANE_HUB_RETRY_MS=50"});
  std::string key(create_tenant(up.port, "staller", "shared")["api_key"].as_string());
  auto ok = imported(up.port, key, "stuck", "acme/stuck");
  BOOST_TEST_REQUIRE(ok["status"].as_string() == "ready", json::serialize(ok));
  BOOST_TEST(ok["size_bytes"].as_int64() == static_cast<std::int64_t>(weights.size()));
  bool resumed = false;
  for (const auto& r : hub.requests())
    if (r.target.starts_with("/cdn/") && r.range == "bytes=1000-") resumed = true;
  BOOST_TEST(resumed, up.process->output());
}

BOOST_AUTO_TEST_CASE(a_busy_hub_is_asked_again) {
  lt::FakeHub hub;
  hub.add("acme/busy", repo_with(toy_adapter(8)));
  Running up({}, {}, {"HF_ENDPOINT=" + hub.endpoint(), "LORAPLANE_HUB_RETRY_MS=50"});
  std::string key(create_tenant(up.port, "patient", "shared")["api_key"].as_string());
  // The revision lookup is told twice to come back in a second.
  hub.busy_next(2, 429, "1");
  auto first = import(up.port, key, "busy", "acme/busy");
  BOOST_TEST_REQUIRE(first.status == 202, first.body);
  auto ok = settle(up.port, key, std::string(parse_object(first.body)["id"].as_string()));
  BOOST_TEST(ok["status"].as_string() == "ready", json::serialize(ok));
  auto seen = hub.requests();
  std::size_t lookups = 0;
  for (const auto& r : seen) {
    if (r.target.starts_with("/api/models/")) ++lookups;
    // Host names the port, as a proxy building redirects from it needs.
    if (!r.target.starts_with("/cdn/"))
      BOOST_TEST(r.host == "127.0.0.1:" + std::to_string(hub.port()), r.target);
  }
  BOOST_TEST(lookups == 3u);
}

// One tenant's import stuck on a silent Hub holds up only the tenants of its partition of
// loraplane.jobs: another tenant's upload is validated and ready meanwhile.
BOOST_AUTO_TEST_CASE(a_stuck_import_holds_up_no_other_tenant) {
  lt::FakeHub hub;
  hub.add("acme/stuck", repo_with(toy_adapter(8)));
  hub.stall_once_after(1000);  // then silent for LORAPLANE_HUB_TIMEOUT_MS
  Running up({}, {}, {"HF_ENDPOINT=" + hub.endpoint(), "LORAPLANE_HUB_TIMEOUT_MS=120000"});
  auto a = create_tenant(up.port, "importer", "shared");
  const std::string key_a(a["api_key"].as_string());
  json::object b;
  for (int i = 0; i < 50; ++i) {
    b = create_tenant(up.port, "uploader-" + std::to_string(i), "shared");
    if (jobs_partition(b["id"].as_string()) != jobs_partition(a["id"].as_string())) break;
  }
  BOOST_TEST_REQUIRE(jobs_partition(b["id"].as_string()) != jobs_partition(a["id"].as_string()));
  const std::string key_b(b["api_key"].as_string());

  auto slow = import(up.port, key_a, "stuck", "acme/stuck");
  BOOST_TEST_REQUIRE(slow.status == 202, slow.body);
  const std::string slow_id(parse_object(slow.body)["id"].as_string());
  bool stuck = false;  // the file store sent its 1000 bytes and went silent
  for (int i = 0; i < 300 && !stuck; ++i) {
    for (const auto& r : hub.requests()) stuck = stuck || r.target.starts_with("/cdn/");
    if (!stuck) std::this_thread::sleep_for(100ms);
  }
  BOOST_TEST_REQUIRE(stuck, up.process->output());

  auto sent = upload(up.port, key_b, {{"name", "meanwhile"}, {"base_model", "toy-llama"}},
                     toy_adapter(8));
  BOOST_TEST_REQUIRE(sent.status == 202, sent.body);
  auto other = settle(up.port, key_b, std::string(parse_object(sent.body)["id"].as_string()));
  BOOST_TEST(other["status"].as_string() == "ready", json::serialize(other));
  auto still = parse_object(lt::http_request(up.port, "GET", "/v1/adapters/" + slow_id, {}, bearer(key_a)).body);
  BOOST_TEST(still["status"].as_string() == "validating", json::serialize(still));
}

BOOST_AUTO_TEST_CASE(bad_import_requests_are_refused_at_once) {
  lt::FakeHub hub;
  Running up({}, {}, {"HF_ENDPOINT=" + hub.endpoint()});
  std::string key(create_tenant(up.port, "strict", "shared")["api_key"].as_string());
  auto traversal = import(up.port, key, "x", "../etc");
  BOOST_TEST(traversal.status == 400, traversal.body);
  auto missing = lt::http_request(up.port, "POST", "/v1/adapters",
                                  R"({"name":"x","base_model":"toy-llama"})", bearer(key));
  BOOST_TEST(missing.status == 400, missing.body);
  BOOST_TEST(missing.body.find("repo") != std::string::npos, missing.body);
  auto unknown_base = lt::http_request(
      up.port, "POST", "/v1/adapters", R"({"name":"x","base_model":"nope","repo":"a/b"})", bearer(key));
  BOOST_TEST(unknown_base.status == 404, unknown_base.body);
  // A token is sent as a header: a line break in it would add headers of the caller's choice.
  auto injected = import(up.port, key, "x", "a/b", R"(,"hf_token":"hf_abc\r\nX-Injected: yes")");
  BOOST_TEST(injected.status == 400, injected.body);
  BOOST_TEST(injected.body.find("hf_token") != std::string::npos, injected.body);
  auto no_key = import(up.port, "pk-prov-wrong", "x", "a/b");
  BOOST_TEST(no_key.status == 401);
  BOOST_TEST(hub.requests().empty());  // nothing reached the Hub
}

BOOST_AUTO_TEST_SUITE_END()
