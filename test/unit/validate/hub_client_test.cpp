// The Hub client against the Hub stand-in, directly: what reaches the sink when a file store
// misbehaves, the sha256 the Hub names, and endpoints written with an IPv6 address.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "common/sha256.hpp"
#include "test/support/fake_hub.hpp"
#include "workers/validate/hub_client.hpp"

using namespace loraplane;
using namespace loraplane::validate;

namespace {

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

std::string some_bytes(std::size_t n) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 131 + 7) % 251);
  return out;
}

test::FakeHub::Repo weights_repo(const std::string& weights) {
  test::FakeHub::Repo repo;
  repo.commit = kCommit;
  repo.files = {{"adapter_model.safetensors", weights}};
  return repo;
}

HubOptions quick(std::string endpoint, int attempts) {
  HubOptions options;
  options.endpoint = std::move(endpoint);
  options.timeout = std::chrono::milliseconds(2000);
  options.retry_backoff = std::chrono::milliseconds(10);
  options.resume_attempts = attempts;
  return options;
}

struct Collected {
  std::string bytes;
  HubClient::Sink sink() {
    return [this](std::string_view piece) -> Status {
      bytes.append(piece);
      return {};
    };
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(hub_client)

BOOST_AUTO_TEST_CASE(a_download_comes_back_with_the_hubs_sha256) {
  test::FakeHub hub;
  const std::string weights = some_bytes(5000);
  hub.add("acme/a", weights_repo(weights));
  HubClient client(quick(hub.endpoint(), 3));
  Collected got;
  auto r = client.download("acme/a", kCommit, "adapter_model.safetensors", {}, 1 << 20, got.sink());
  BOOST_TEST_REQUIRE(static_cast<bool>(r), r.error.message);
  Sha256 sha;
  sha.update(weights);
  BOOST_TEST(r.value->bytes == weights.size());
  BOOST_TEST(r.value->sha256 == sha.finish_hex());
  BOOST_TEST(got.bytes == weights);
}

// A worker stopping during the last attempt cuts it short: that is no failure of the Hub, and
// the import must run again later rather than fail with hub_unavailable.
BOOST_AUTO_TEST_CASE(a_stop_during_the_last_attempt_is_stopping_not_a_failure) {
  test::FakeHub hub;
  hub.add("acme/s", weights_repo(some_bytes(5000)));
  hub.stall_once_after(0);  // the answer's head, then silence
  std::atomic<bool> stop{false};
  auto options = quick(hub.endpoint(), 1);
  options.timeout = std::chrono::milliseconds(30000);
  options.stop = &stop;
  HubClient client(options);
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  Collected got;
  auto r = client.download("acme/s", kCommit, "adapter_model.safetensors", {}, 1 << 20, got.sink());
  stopper.join();
  BOOST_TEST_REQUIRE(!r);
  BOOST_TEST(r.error.code == "stopping", r.error.message);
}

BOOST_AUTO_TEST_CASE(an_etag_gives_a_sha256_only_when_it_is_one) {
  const std::string sha(64, 'a');
  BOOST_TEST(sha256_from_etag("\"" + sha + "\"") == sha);
  BOOST_TEST(sha256_from_etag("W/\"" + sha + "\"") == sha);
  BOOST_TEST(sha256_from_etag(sha) == sha);
  // A file kept in git: its blob's sha1.
  BOOST_TEST(sha256_from_etag("\"0123456789abcdef0123456789abcdef01234567\"").empty());
  BOOST_TEST(sha256_from_etag("\"" + std::string(64, 'G') + "\"").empty());
  BOOST_TEST(sha256_from_etag("").empty());
}

// A 206 says where its bytes start only in Content-Range. Without it, bytes placed at a
// guess would corrupt the file; the download fails instead, with what it has kept intact.
BOOST_AUTO_TEST_CASE(a_partial_answer_without_content_range_is_not_spliced_in) {
  test::FakeHub hub;
  const std::string weights = some_bytes(5000);
  hub.add("acme/a", weights_repo(weights));
  hub.drop_once_after(1000);
  hub.omit_content_range();
  HubClient client(quick(hub.endpoint(), 2));
  Collected got;
  auto r = client.download("acme/a", kCommit, "adapter_model.safetensors", {}, 1 << 20, got.sink());
  BOOST_TEST_REQUIRE(!r);
  BOOST_TEST(r.error.code == "hub_unavailable");
  BOOST_TEST(r.error.message.find("Content-Range") != std::string::npos, r.error.message);
  BOOST_TEST(got.bytes == weights.substr(0, 1000));
}

// http://[::1]:9 is the address ::1, port 9 (nothing listens there): the client must try to
// connect to it, not look up a host named "[::1]:9" on port 80.
BOOST_AUTO_TEST_CASE(an_ipv6_endpoint_is_an_address_and_a_port) {
  HubClient client(quick("http://[::1]:9", 1));
  auto r = client.resolve("acme/a", "main", {});
  BOOST_TEST_REQUIRE(!r);
  BOOST_TEST(r.error.code == "hub_unavailable");
  BOOST_TEST(r.error.message.find("cannot connect to http://[::1]:9") != std::string::npos,
             r.error.message);
  HubClient bad(quick("http://[::1", 1));
  auto refused = bad.resolve("acme/a", "main", {});
  BOOST_TEST_REQUIRE(!refused);
  BOOST_TEST(refused.error.message.find("bad HF_ENDPOINT") != std::string::npos, refused.error.message);
}

BOOST_AUTO_TEST_SUITE_END()
