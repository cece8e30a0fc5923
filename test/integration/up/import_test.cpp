// `loraplane import`: a manifest of uploads against a running `up`, the summary, the exit code,
// and resumption (a re-run skips what is already ready with the same bytes).
#include <boost/test/unit_test.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <set>
#include <thread>

#include "test/integration/up/up_support.hpp"
#include "test/support/multipart_body.hpp"

using namespace loraplane::test::up;
using namespace std::chrono_literals;

namespace {

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::pair<int, std::string> run_import(std::vector<std::string> args) {
  std::vector<std::string> argv = {lt::loraplane_binary(), "import"};
  argv.insert(argv.end(), args.begin(), args.end());
  lt::Process cli(argv);
  int code = cli.stop(0, 120s);  // signal 0 only waits for the exit
  return {code, cli.output()};
}

// The JSON summary printed by --json (the last line of the output).
json::object summary(const std::string& out) {
  auto start = out.rfind("{\"adapters\"");
  BOOST_REQUIRE_MESSAGE(start != std::string::npos, out);
  return parse_object(out.substr(start, out.find('\n', start) - start));
}

std::map<std::string, json::object> by_name(const json::object& doc) {
  std::map<std::string, json::object> out;
  for (const auto& item : doc.at("adapters").as_array())
    out[std::string(item.as_object().at("name").as_string())] = item.as_object();
  return out;
}

// A Hub that accepts connections and never answers: a repo import stays validating. Closed
// when the guard goes.
struct SilentHub {
  int fd = -1;
  std::uint16_t port = 0;
  SilentHub() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    BOOST_REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    BOOST_REQUIRE(::listen(fd, 16) == 0);
    BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }
  ~SilentHub() { ::close(fd); }
  SilentHub(const SilentHub&) = delete;
  SilentHub& operator=(const SilentHub&) = delete;
  std::string env() const { return "HF_ENDPOINT=http://127.0.0.1:" + std::to_string(port); }
};

// `loraplane import` of one repo entry, started in the background.
std::unique_ptr<lt::Process> start_import(const std::string& manifest, std::uint16_t port,
                                          const std::string& key,
                                          std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {lt::loraplane_binary(), "import", "--manifest", manifest,
                                   "--api", "http://127.0.0.1:" + std::to_string(port),
                                   "--key", key, "--json", "--timeout", "120"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<lt::Process>(argv);
}

// Waits until the caller has an adapter listed; returns its id.
std::string wait_listed(std::uint16_t port, const std::string& key) {
  for (int i = 0; i < 300; ++i) {
    auto listed = lt::http_request(port, "GET", "/v1/adapters", {}, bearer(key));
    if (listed.status == 200) {
      auto data = parse_object(listed.body)["data"].as_array();
      if (!data.empty()) return std::string(data[0].as_object().at("id").as_string());
    }
    std::this_thread::sleep_for(100ms);
  }
  BOOST_FAIL("the import never created its adapter");
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(import_cli)

BOOST_AUTO_TEST_CASE(imports_a_manifest_and_resumes) {
  Running up;
  std::string key(create_tenant(up.port, "importer", "shared")["api_key"].as_string());
  lt::TempDir files;
  write_file(files.path() + "/a.safetensors", toy_adapter(4));
  write_file(files.path() + "/b.safetensors", toy_adapter(16));
  write_file(files.path() + "/bad.safetensors", toy_adapter(8, 32));  // wrong shape for toy-llama
  const std::string manifest = files.path() + "/batch.csv";
  write_file(manifest,
             "name,base_model,file\n"
             "alpha,toy-llama,a.safetensors\n"
             "beta,toy-llama,b.safetensors\n"
             "broken,toy-llama,bad.safetensors\n");
  const std::string api = "http://127.0.0.1:" + std::to_string(up.port);

  auto [code, out] = run_import({"--manifest", manifest, "--api", api, "--key", key, "--json"});
  BOOST_TEST(code == 1, out);  // one adapter failed
  auto first = by_name(summary(out));
  BOOST_TEST(first["alpha"]["status"].as_string() == "ready");
  BOOST_TEST(first["beta"]["status"].as_string() == "ready");
  BOOST_TEST(first["broken"]["status"].as_string() == "failed");
  BOOST_TEST(std::string(first["broken"]["error"].as_string()).find("invalid_adapter") !=
             std::string::npos);
  auto listed = lt::http_request(up.port, "GET", "/v1/adapters", {}, bearer(key));
  BOOST_TEST(parse_object(listed.body)["data"].as_array().size() == 3u);

  // The broken file is fixed; a re-run skips the ready ones and replaces the failed attempt.
  write_file(files.path() + "/bad.safetensors", toy_adapter(8));
  auto [again_code, again_out] =
      run_import({"--manifest", manifest, "--api", api, "--key", key, "--json"});
  BOOST_TEST(again_code == 0, again_out);
  auto second = by_name(summary(again_out));
  BOOST_TEST(second["alpha"]["status"].as_string() == "skipped");
  BOOST_TEST(second["alpha"]["id"] == first["alpha"]["id"]);
  BOOST_TEST(second["beta"]["status"].as_string() == "skipped");
  BOOST_TEST(second["broken"]["status"].as_string() == "ready");
  listed = lt::http_request(up.port, "GET", "/v1/adapters", {}, bearer(key));
  BOOST_TEST(parse_object(listed.body)["data"].as_array().size() == 3u);  // no duplicates
}

BOOST_AUTO_TEST_CASE(bad_manifests_and_keys_are_refused_up_front) {
  Running up;
  const std::string api = "http://127.0.0.1:" + std::to_string(up.port);
  std::string key(create_tenant(up.port, "careful", "shared")["api_key"].as_string());
  lt::TempDir files;
  const std::string jsonl = files.path() + "/m.jsonl";
  write_file(jsonl, "{\"name\":\"x\",\"base_model\":\"toy-llama\",\"file\":\"x.safetensors\"}\n"
                    "{\"name\":\"y\",\"base_model\":\"toy-llama\"}\n");
  auto [code, out] = run_import({"--manifest", jsonl, "--api", api, "--key", key});
  BOOST_TEST(code == 2, out);
  BOOST_TEST(out.find("manifest line 2") != std::string::npos, out);

  write_file(jsonl, "{\"name\":\"x\",\"base_model\":\"toy-llama\",\"file\":\"x.safetensors\"}\n");
  auto [key_code, key_out] = run_import({"--manifest", jsonl, "--api", api, "--key", "pk-prov-nope"});
  BOOST_TEST(key_code == 2, key_out);
  BOOST_TEST(key_out.find("401") != std::string::npos, key_out);
  auto listed = lt::http_request(up.port, "GET", "/v1/adapters", {}, bearer(key));
  BOOST_TEST(parse_object(listed.body)["data"].as_array().empty());
}

// What spreadsheets and hand-written JSON produce: a CSV starting with a UTF-8 byte order
// mark (Excel), and lora_alpha as a JSON number.
BOOST_AUTO_TEST_CASE(excel_csv_and_a_numeric_lora_alpha_are_read) {
  Running up;
  std::string key(create_tenant(up.port, "spreadsheet", "shared")["api_key"].as_string());
  lt::TempDir files;
  write_file(files.path() + "/a.safetensors", toy_adapter(4));
  write_file(files.path() + "/b.safetensors", toy_adapter(8));
  const std::string csv = files.path() + "/excel.csv";
  write_file(csv, "\xEF\xBB\xBFname,base_model,file\r\nfrom-excel,toy-llama,a.safetensors\r\n");
  const std::string jsonl = files.path() + "/m.jsonl";
  write_file(jsonl, "{\"name\":\"alpha-32\",\"base_model\":\"toy-llama\",\"file\":"
                    "\"b.safetensors\",\"lora_alpha\":32}\n");
  const std::string api = "http://127.0.0.1:" + std::to_string(up.port);
  for (const auto& manifest : {csv, jsonl}) {
    auto [code, out] = run_import({"--manifest", manifest, "--api", api, "--key", key, "--json"});
    BOOST_TEST(code == 0, out);
  }
  auto listed = parse_object(lt::http_request(up.port, "GET", "/v1/adapters", {}, bearer(key)).body);
  std::set<std::string> names;
  for (const auto& a : listed["data"].as_array())
    if (a.as_object().at("status").as_string() == "ready")
      names.insert(std::string(a.as_object().at("name").as_string()));
  BOOST_TEST((names == std::set<std::string>{"from-excel", "alpha-32"}));
}

// A gateway that goes away while the import waits for an adapter ends the wait in bounded time,
// with the adapter failed and the connection error named: not a silent poll of a dead address
// until the per-adapter timeout.
BOOST_AUTO_TEST_CASE(a_gateway_gone_while_waiting_ends_the_wait) {
  SilentHub hub;
  Running up({}, {}, {hub.env()});
  std::string key(create_tenant(up.port, "orphaned", "shared")["api_key"].as_string());
  lt::TempDir files;
  const std::string jsonl = files.path() + "/m.jsonl";
  write_file(jsonl, "{\"name\":\"slow\",\"base_model\":\"toy-llama\",\"repo\":\"org/slow\"}\n");
  lt::Process cli({lt::loraplane_binary(), "import", "--manifest", jsonl, "--api",
                   "http://127.0.0.1:" + std::to_string(up.port), "--key", key, "--json",
                   "--timeout", "120", "--unreachable-timeout", "2"});
  bool accepted = false;
  for (int i = 0; i < 300 && !accepted; ++i) {
    auto listed = lt::http_request(up.port, "GET", "/v1/adapters", {}, bearer(key));
    accepted = listed.status == 200 && !parse_object(listed.body)["data"].as_array().empty();
    if (!accepted) std::this_thread::sleep_for(100ms);
  }
  BOOST_REQUIRE(accepted);
  up.process->stop(SIGKILL);
  const int code = cli.stop(0, 60s);  // waits for the exit; the old wait ran to --timeout
  const auto out = cli.output();
  BOOST_TEST(code == 1, out);
  auto items = summary(out).at("adapters").as_array();
  BOOST_REQUIRE(items.size() == 1u);
  const std::string error(items[0].as_object().at("error").as_string());
  BOOST_TEST(error.find("gateway unreachable for 2 s") != std::string::npos, error);
}

// The gateway killed and restarted on the same port while the import waits: the 503s it gives
// while loading its state are waited out like a refused connection, and the adapter's own
// outcome is reported (here `interrupted`, as the kill cut its import), not the 503.
BOOST_AUTO_TEST_CASE(a_gateway_restarting_while_waiting_is_waited_for) {
  SilentHub hub;
  lt::TempDir data;
  auto up = std::make_unique<Running>(std::vector<std::string>{}, data.path(),
                                      std::vector<std::string>{hub.env()});
  const std::uint16_t port = up->port;
  std::string key(create_tenant(port, "restarted", "shared")["api_key"].as_string());
  // The tenant must be journaled before the kill for the key to survive; an accepted upload
  // shows the journal has caught up with it.
  auto first = upload(port, key, {{"name", "first"}, {"base_model", "toy-llama"}}, toy_adapter(4));
  BOOST_TEST_REQUIRE(first.status == 202, first.body);
  BOOST_TEST_REQUIRE(settle(port, key, std::string(parse_object(first.body)["id"].as_string()))
                         ["status"].as_string() == "ready");
  lt::TempDir files;
  const std::string jsonl = files.path() + "/m.jsonl";
  write_file(jsonl, "{\"name\":\"slow\",\"base_model\":\"toy-llama\",\"repo\":\"org/slow\"}\n");
  auto cli = start_import(jsonl, port, key, {"--unreachable-timeout", "30"});
  for (int i = 0; i < 300; ++i) {
    auto listed = lt::http_request(port, "GET", "/v1/adapters", {}, bearer(key));
    if (listed.status == 200 && parse_object(listed.body)["data"].as_array().size() == 2u) break;
    std::this_thread::sleep_for(100ms);
  }
  up->process->stop(SIGKILL);
  up.reset();
  lt::Process again({lt::loraplane_binary(), "up", "--port", std::to_string(port), "--data-dir",
                     data.path()},
                    {"LORAPLANE_ADMIN_TOKEN=" + kAdminToken, hub.env()});
  BOOST_TEST_REQUIRE(again.wait_for_line("loraplane ready on", 60s).has_value(), again.output());
  const int code = cli->stop(0, 90s);
  const auto out = cli->output();
  BOOST_TEST(code == 1, out);
  auto items = summary(out).at("adapters").as_array();
  BOOST_REQUIRE(items.size() == 1u);
  const std::string error(items[0].as_object().at("error").as_string());
  BOOST_TEST(error.find("503") == std::string::npos, error);
  BOOST_TEST(error.find("interrupted") != std::string::npos, error);
}

// An adapter deleted while the import waits for it: the 404 ends the wait at once, saying so.
BOOST_AUTO_TEST_CASE(an_adapter_deleted_while_waiting_ends_the_wait) {
  SilentHub hub;
  Running up({}, {}, {hub.env()});
  std::string key(create_tenant(up.port, "deleter", "shared")["api_key"].as_string());
  lt::TempDir files;
  const std::string jsonl = files.path() + "/m.jsonl";
  write_file(jsonl, "{\"name\":\"slow\",\"base_model\":\"toy-llama\",\"repo\":\"org/slow\"}\n");
  auto cli = start_import(jsonl, up.port, key);
  const std::string id = wait_listed(up.port, key);
  auto gone = lt::http_request(up.port, "DELETE", "/v1/adapters/" + id, {}, bearer(key));
  BOOST_TEST_REQUIRE(gone.status == 200, gone.body);
  const auto start = std::chrono::steady_clock::now();
  const int code = cli->stop(0, 60s);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 10s));
  const auto out = cli->output();
  BOOST_TEST(code == 1, out);
  auto items = summary(out).at("adapters").as_array();
  BOOST_REQUIRE(items.size() == 1u);
  const std::string error(items[0].as_object().at("error").as_string());
  BOOST_TEST(error.find("404") != std::string::npos, error);
  BOOST_TEST(error.find("deleted") != std::string::npos, error);
}

// An upload refused 429 (the tenant's uploads are all in progress) and sent again counts its
// bytes once in the summary, not once per attempt.
BOOST_AUTO_TEST_CASE(a_retried_upload_counts_its_bytes_once) {
  Running up({"--tenant-max-uploads", "1"});
  std::string key(create_tenant(up.port, "patient", "shared")["api_key"].as_string());
  // Another upload of the tenant holds the only slot, stalled before its last bytes.
  const std::string boundary = "----slot-boundary";
  const std::string body = lt::multipart_body(
      boundary, {{"name", "holder"}, {"base_model", "toy-llama"}}, toy_adapter(8));
  const std::string request = "POST /v1/adapters/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Authorization: Bearer " + key + "\r\nContent-Type: " +
                              lt::multipart_content_type(boundary) + "\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  constexpr std::size_t kHeldBack = 16;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), up.port});
  boost::asio::write(socket, boost::asio::buffer(request.data(), request.size() - kHeldBack));

  lt::TempDir files;
  const std::string file = toy_adapter(4);
  write_file(files.path() + "/a.safetensors", file);
  const std::string manifest = files.path() + "/m.csv";
  write_file(manifest, "name,base_model,file\nretried,toy-llama,a.safetensors\n");
  lt::Process cli({lt::loraplane_binary(), "import", "--manifest", manifest, "--api",
                   "http://127.0.0.1:" + std::to_string(up.port), "--key", key, "--json"});
  BOOST_TEST_REQUIRE(up.process->wait_for_line("/v1/adapters/upload 429", 20s).has_value(),
                     up.process->output());
  std::this_thread::sleep_for(2500ms);  // and its first retry (Retry-After: 2), refused too
  boost::asio::write(socket, boost::asio::buffer(request.data() + request.size() - kHeldBack,
                                                 kHeldBack));
  const int code = cli.stop(0, 60s);
  const auto out = cli.output();
  BOOST_TEST(code == 0, out);
  auto doc = summary(out);
  BOOST_TEST(by_name(doc)["retried"]["status"].as_string() == "ready", out);
  BOOST_TEST(doc.at("bytes").as_int64() == static_cast<std::int64_t>(file.size()), out);
}

BOOST_AUTO_TEST_SUITE_END()
