// Crashes on the real broker: a kill -9 of the validate worker while jobs are in flight, and a
// kill -9 of the gateway, lose no accepted upload and duplicate nothing a client can see.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "common/kafka.hpp"
#include "test/integration/lifecycle/deployment.hpp"

using namespace loraplane;
using namespace loraplane::lifecycle_test;
using namespace std::chrono_literals;

namespace {

struct Uploaded {
  std::string id;
  std::string sha256;
};

// Uploads in parallel; every one must be accepted. A 429 (the tenant's concurrent-upload limit,
// answered before anything is written) is retried after a pause, as a client honouring
// Retry-After does.
std::vector<Uploaded> upload_all(Deployment& d, const std::string& key,
                                 const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<std::future<lt::HttpResult>> pending;
  for (const auto& [name, file] : files)
    pending.push_back(std::async(std::launch::async, [&d, &key, name = name, &file] {
      auto r = d.upload(key, name, "llama-3.1-8b-instruct", file);
      for (int attempt = 0; r.status == 429 && attempt < 240; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        r = d.upload(key, name, "llama-3.1-8b-instruct", file);
      }
      return r;
    }));
  std::vector<Uploaded> out;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    auto r = pending[i].get();
    BOOST_TEST_REQUIRE(r.status == 202, r.body);
    out.push_back({id_of(r), sha256_of(files[i].second)});
  }
  return out;
}

// The adapter records of this deployment's compacted adapters topic, newest per key.
std::map<std::string, json::object> adapter_records(const std::string& prefix) {
  auto cluster = kafka::Cluster::external(broker());
  kafka::set_topic_prefix(prefix);
  std::mutex mutex;
  std::map<std::string, json::object> latest;
  kafka::ConsumerOptions options;
  options.client_id = "lifecycle-test-adapters";
  options.topics = {std::string(kafka::kAdapters)};
  auto reader = kafka::Consumer::start(*cluster, options, [&](const kafka::Message& m) {
    std::lock_guard lock(mutex);
    if (m.tombstone) {
      latest.erase(m.key);
    } else {
      auto v = json::parse(m.value).as_object();
      auto seq = [](const json::object& o) {
        const auto* s = o.if_contains("seq");
        return s ? s->to_number<std::int64_t>() : 0;
      };
      auto it = latest.find(m.key);
      if (it == latest.end() || seq(it->second) <= seq(v)) latest[m.key] = v;
    }
    return kafka::Handled::done;
  });
  BOOST_REQUIRE(reader->wait_caught_up(30s));
  reader->stop();
  kafka::set_topic_prefix("");
  std::lock_guard lock(mutex);
  return latest;
}

void expect_all_ready_once(Deployment& d, const std::string& key,
                           const std::vector<Uploaded>& uploads) {
  for (const auto& u : uploads) {
    auto a = d.settle(key, u.id, 120s);
    BOOST_TEST_CONTEXT(u.id) {
      BOOST_TEST_REQUIRE(a["status"].as_string() == "ready", d.logs());
      BOOST_TEST(a["sha256"].as_string() == u.sha256);
    }
  }
  // The tenant sees exactly its accepted uploads, each once.
  std::multiset<std::string> listed;
  for (auto& a : d.list_all(key)) listed.emplace(a["id"].as_string());
  std::multiset<std::string> accepted;
  for (const auto& u : uploads) accepted.insert(u.id);
  BOOST_TEST((listed == accepted));
  // In the state topic: one record per adapter, ready, stored once on the one node.
  auto records = adapter_records(d.prefix());
  BOOST_TEST(records.size() == uploads.size());
  for (const auto& u : uploads) {
    BOOST_TEST_CONTEXT(u.id) {
      BOOST_TEST_REQUIRE(records.count(u.id) == 1u);
      auto& r = records[u.id];
      BOOST_TEST(r["status"].as_string() == "ready");
      BOOST_TEST(r["storage_urls"].as_array().size() == 1u);
    }
  }
}

// Starts an upload of `file` and sends only its first `sent` bytes: the gateway is reading the
// body when it is killed. Returns the socket (closed by the caller).
int start_partial_upload(std::uint16_t port, const std::string& key, const std::string& name,
                         const std::string& file, std::size_t sent) {
  const std::string boundary = "partial-upload-boundary";
  const std::string fields = "--" + boundary +
                             "\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n" + name +
                             "\r\n--" + boundary +
                             "\r\nContent-Disposition: form-data; name=\"base_model\"\r\n\r\n"
                             "llama-3.1-8b-instruct\r\n--" +
                             boundary +
                             "\r\nContent-Disposition: form-data; name=\"file\"; "
                             "filename=\"a.safetensors\"\r\n\r\n";
  const std::string tail = "\r\n--" + boundary + "--\r\n";
  const std::string head =
      "POST /v1/adapters/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Authorization: Bearer " +
      key + "\r\nContent-Type: multipart/form-data; boundary=" + boundary +
      "\r\nContent-Length: " + std::to_string(fields.size() + file.size() + tail.size()) +
      "\r\n\r\n";
  const std::string bytes = head + fields + file.substr(0, sent);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  std::size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    BOOST_REQUIRE(n > 0);
    done += static_cast<std::size_t>(n);
  }
  return fd;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crashes, *boost::unit_test::precondition(BrokerGiven()))

BOOST_AUTO_TEST_CASE(validate_worker_killed_mid_job_loses_and_duplicates_nothing) {
  Deployment d;
  d.start_all();
  auto t = d.create_tenant("crash", "shared");  // 20 adapters
  // ~7 MB llama-8b adapters: validating one re-reads 7 chunks and hashes them.
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 6; ++i)
    files.emplace_back("before-" + std::to_string(i),
                       llama_8b_adapter(4, static_cast<std::uint32_t>(i)));
  auto uploads = upload_all(d, t.key, files);
  // Killed as soon as it has finished one job: the others are in hand or queued, and the
  // finished one's offset may not be committed yet.
  BOOST_REQUIRE_MESSAGE(d.validate()->wait_for_line(" validated (rank", 60s), d.logs());
  d.kill_validate();
  std::map<std::string, int> at_kill;
  for (const auto& u : uploads)
    ++at_kill[std::string(parse_object(d.get(t.key, u.id).body)["status"].as_string())];
  for (const auto& [status, n] : at_kill) BOOST_TEST_MESSAGE("at the kill: " << n << " " << status);

  // Accepted while no validate worker runs: pending, not lost.
  std::vector<std::pair<std::string, std::string>> more;
  for (int i = 0; i < 2; ++i)
    more.emplace_back("during-" + std::to_string(i),
                      llama_8b_adapter(4, 100u + static_cast<std::uint32_t>(i)));
  auto during = upload_all(d, t.key, more);
  for (const auto& u : during)
    BOOST_TEST(parse_object(d.get(t.key, u.id).body)["status"].as_string() == "pending");
  uploads.insert(uploads.end(), during.begin(), during.end());

  d.start_validate();
  expect_all_ready_once(d, t.key, uploads);

  // The worker's count is right: exactly 20 - 8 more fit the shared tier, and all of them are
  // accepted by the worker too (a double count would fail some with adapter_limit_reached).
  std::vector<std::string> extra;
  for (int i = 0; i < 12; ++i) {
    auto r = d.upload(t.key, "after-" + std::to_string(i), "toy-llama", toy_adapter(4));
    BOOST_TEST_REQUIRE(r.status == 202, r.body);
    extra.push_back(id_of(r));
  }
  auto over = d.upload(t.key, "one-too-many", "toy-llama", toy_adapter(4));
  BOOST_TEST(over.status == 403);
  for (const auto& id : extra) {
    auto a = d.settle(t.key, id);
    BOOST_TEST(a["status"].as_string() == "ready", json::serialize(a));
  }
}

BOOST_AUTO_TEST_CASE(gateway_restart_keeps_state_and_uploads_continue) {
  Deployment d;
  d.start_all();
  auto a = d.create_tenant("alpha", "reserved");
  auto b = d.create_tenant("beta", "shared");
  std::vector<std::pair<std::string, std::string>> files = {{"one", llama_8b_adapter(4, 7)},
                                                            {"two", llama_8b_adapter(8, 8)}};
  auto uploads = upload_all(d, a.key, files);
  auto b_upload = d.upload(b.key, "one", "toy-llama", toy_adapter(8));
  BOOST_TEST_REQUIRE(b_upload.status == 202, b_upload.body);
  for (const auto& u : uploads) {
    auto settled = d.settle(a.key, u.id);
    BOOST_TEST_REQUIRE(settled["status"].as_string() == "ready", json::serialize(settled));
  }
  auto doomed = d.upload(a.key, "doomed", "toy-llama", toy_adapter(4));
  BOOST_TEST_REQUIRE(doomed.status == 202);
  BOOST_TEST_REQUIRE(d.remove(a.key, id_of(doomed)).status == 200);

  // An upload is streaming (3 of its 7 MB sent) when the gateway dies: it was never accepted.
  const auto cut_short = llama_8b_adapter(4, 11);
  int partial = start_partial_upload(d.port(), a.key, "cut-short", cut_short, 3'000'000);

  d.kill_gateway();
  ::close(partial);
  d.start_gateway();

  // Tenants and keys survived, and so did every adapter (the deleted one stays deleted).
  for (const auto& u : uploads) {
    auto r = d.get(a.key, u.id);
    BOOST_TEST_REQUIRE(r.status == 200, r.body);
    BOOST_TEST(parse_object(r.body)["status"].as_string() == "ready");
  }
  BOOST_TEST(d.get(a.key, id_of(doomed)).status == 404);
  // Nothing is left of the upload the crash cut short: not listed, its name free.
  BOOST_TEST(d.list_all(a.key).size() == 2u);
  auto retried = d.upload(a.key, "cut-short", "llama-3.1-8b-instruct", cut_short);
  BOOST_TEST_REQUIRE(retried.status == 202, retried.body);
  BOOST_TEST(d.settle(b.key, id_of(b_upload))["status"].as_string() == "ready");
  BOOST_TEST(d.get(b.key, uploads.front().id).status == 404);
  // Uniqueness is remembered: the same name is still taken, the deleted one is free.
  BOOST_TEST(d.upload(a.key, "one", "llama-3.1-8b-instruct", llama_8b_adapter(4, 9)).status == 409);
  auto reused = d.upload(a.key, "doomed", "toy-llama", toy_adapter(4));
  BOOST_TEST_REQUIRE(reused.status == 202, reused.body);
  BOOST_TEST(d.settle(a.key, id_of(reused))["status"].as_string() == "ready", d.logs());
  BOOST_TEST(d.settle(a.key, id_of(retried))["status"].as_string() == "ready", d.logs());
  BOOST_TEST(d.list_all(a.key).size() == 4u);
  // New tenants and uploads work as before.
  auto c = d.create_tenant("gamma", "shared");
  auto fresh = d.upload(c.key, "fresh", "llama-3.1-8b-instruct", llama_8b_adapter(4, 10));
  BOOST_TEST_REQUIRE(fresh.status == 202, fresh.body);
  BOOST_TEST(d.settle(c.key, id_of(fresh))["status"].as_string() == "ready", d.logs());
}

BOOST_AUTO_TEST_SUITE_END()
