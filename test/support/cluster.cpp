#include "test/support/cluster.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/http_call.hpp"
#include "common/sha256.hpp"

namespace loraplane::test {

namespace json = boost::json;
using namespace std::chrono_literals;

Answer call(std::uint16_t port, const std::string& method, const std::string& target,
            const std::string& body, const std::map<std::string, std::string>& headers,
            std::chrono::milliseconds timeout) {
  http::CallOptions options;
  options.timeout = timeout;
  auto r = http::call(http::Endpoint{"127.0.0.1", port, ""}, method, target, body, headers, options);
  Answer a;
  if (!r) {
    a.error = r.error().message;
    return a;
  }
  a.status = r->status;
  a.body = std::move(r->body);
  a.headers = std::move(r->headers);
  return a;
}

namespace {

bool can_bind(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::uint16_t free_port() {
  // Below the kernel's ephemeral range: a killed role gets its port back on restart, as no
  // outgoing connection (nor anyone's port-0 listener) is handed a port from there.
  unsigned low = 32768, high = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  const unsigned top = low > 1025 ? low - 1 : 0;
  const unsigned bottom = top > 12000 ? top - 12000 : 1025;
  if (top > bottom) {
    static std::mutex mutex;
    static std::mt19937 rng(std::random_device{}());
    static std::set<std::uint16_t> handed_out;  // roles not started yet do not hold theirs
    std::lock_guard lock(mutex);
    for (int attempt = 0; attempt < 200; ++attempt) {
      const auto port = static_cast<std::uint16_t>(bottom + rng() % (top - bottom));
      if (!handed_out.contains(port) && can_bind(port)) {
        handed_out.insert(port);
        return port;
      }
    }
  }
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// ---- Role --------------------------------------------------------------------------------

Role::Role(std::string name, RoleKind kind, std::vector<std::string> argv,
           std::vector<std::string> env, std::uint16_t port, std::string ready_line)
    : name_(std::move(name)),
      kind_(kind),
      argv_(std::move(argv)),
      env_(std::move(env)),
      port_(port),
      ready_line_(std::move(ready_line)) {}

Role::~Role() = default;

void Role::spawn() {
  std::lock_guard lock(mutex_);
  if (process_) {
    if (process_->running()) return;
    past_logs_.push_back(process_->output());
  }
  process_ = std::make_unique<Process>(argv_, env_);
  ++starts_;
}

void Role::wait_ready(std::chrono::milliseconds timeout) {
  for (int attempt = 0;; ++attempt) {
    Process* p = nullptr;
    {
      std::lock_guard lock(mutex_);
      p = process_.get();
    }
    if (!p) throw std::runtime_error(name_ + ": not started");
    if (p->wait_for_line(ready_line_, timeout)) return;
    const std::string output = p->output();
    // Another process took the port between free_port() and the role's bind. On a first start
    // nothing names the port yet (an engine's is in its agents' flags), so take another one.
    if (attempt < 3 && starts_ == 1 && kind_ != RoleKind::engine && port_ != 0 &&
        output.find("Address already in use") != std::string::npos && !p->running()) {
      std::lock_guard lock(mutex_);
      port_ = free_port();
      for (std::size_t i = 0; i + 1 < argv_.size(); ++i)
        if (argv_[i] == "--port") argv_[i + 1] = std::to_string(port_);
      process_ = std::make_unique<Process>(argv_, env_);
      continue;
    }
    throw std::runtime_error(name_ + " did not get ready (no \"" + ready_line_ + "\"):\n" +
                             output);
  }
}

void Role::kill() {
  std::lock_guard lock(mutex_);
  if (process_) process_->stop(SIGKILL);
}

void Role::stop() {
  std::lock_guard lock(mutex_);
  if (process_) process_->stop(SIGTERM, 30s);
}

bool Role::running() {
  std::lock_guard lock(mutex_);
  return process_ && process_->running();
}

std::optional<std::string> Role::wait_for_line(const std::string& needle,
                                               std::chrono::milliseconds timeout) {
  Process* p = nullptr;
  {
    std::lock_guard lock(mutex_);
    p = process_.get();
  }
  if (!p) return std::nullopt;
  return p->wait_for_line(needle, timeout);
}

std::string Role::logs() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (std::size_t i = 0; i < past_logs_.size(); ++i)
    out += "--- " + name_ + " (run " + std::to_string(i + 1) + ", killed) ---\n" + past_logs_[i];
  if (process_)
    out += "--- " + name_ + " (run " + std::to_string(starts_) + ") ---\n" + process_->output();
  return out;
}

// ---- Cluster -----------------------------------------------------------------------------

Cluster::Cluster(ClusterOptions options)
    : options_(std::move(options)), prefix_("mp-" + random_base62(10) + ".") {
  if (options_.kafka.empty()) throw std::invalid_argument("Cluster: no Kafka bootstrap servers");
}

Cluster::~Cluster() {
  // Workers and engines (all at once), then the gateways.
  for (bool gateways : {false, true}) {
    std::vector<std::thread> stopping;
    for (auto& r : roles_)
      if ((r->kind() == RoleKind::gateway) == gateways)
        stopping.emplace_back([role = r.get()] { role->stop(); });
    for (auto& t : stopping) t.join();
  }
}

Role& Cluster::add(std::string name, RoleKind kind, std::vector<std::string> args,
                   std::uint16_t port, std::string ready_line) {
  std::vector<std::string> argv = {loraplane_binary(), "--topic-prefix", prefix_};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env = options_.env;
  env.push_back("LORAPLANE_ADMIN_TOKEN=" + options_.admin_token);
  // Gateways and validate workers share the key that seals a tenant's hf_token.
  env.push_back("LORAPLANE_SEAL_KEY=" + std::string(64, 'c'));
  roles_.push_back(std::make_unique<Role>(std::move(name), kind, std::move(argv), std::move(env),
                                          port, std::move(ready_line)));
  return *roles_.back();
}

Role& Cluster::add_gateway() {
  const int n = counts_[RoleKind::gateway]++;
  const auto port = free_port();
  return add("gateway-" + std::to_string(n), RoleKind::gateway,
             {"gateway", "--kafka", options_.kafka, "--port", std::to_string(port)}, port,
             "loraplane ready on");
}

Role& Cluster::add_validate() {
  const int n = counts_[RoleKind::validate]++;
  const auto port = free_port();  // its listener: /healthz and /metrics
  return add("validate-" + std::to_string(n), RoleKind::validate,
             {"worker", "--role", "validate", "--kafka", options_.kafka, "--session-timeout-ms",
              std::to_string(options_.session_timeout_ms), "--port", std::to_string(port)},
             port, "taking jobs");
}

Role& Cluster::add_storage() {
  const int n = counts_[RoleKind::storage]++;
  const auto port = free_port();  // fixed: the blob urls in adapter states name it
  const std::string id = "storage-" + std::to_string(n);
  return add(id, RoleKind::storage,
             {"worker", "--role", "distribute", "--kafka", options_.kafka, "--node-id", id,
              "--data-dir", dir() + "/" + id, "--port", std::to_string(port)},
             port, "first reconciliation done");
}

Role& Cluster::add_engine(const std::string& base, int max_loras) {
  const int n = counts_[RoleKind::engine]++;
  const auto port = free_port();  // fixed: the agent (and its engine id) names it
  const std::string name = "engine-" + std::to_string(n);
  return add(name, RoleKind::engine,
             {"sim-engine", "--profile", "instant", "--base", base, "--port", std::to_string(port),
              "--max-loras", std::to_string(max_loras), "--seed", std::to_string(n + 1)},
             port, "listening on http");
}

Role& Cluster::add_agent(const Role& engine, const std::string& base, int max_loras) {
  const int n = counts_[RoleKind::agent]++;
  const auto port = free_port();
  const std::string name = "agent-" + std::to_string(n);
  return add(name, RoleKind::agent,
             {"worker", "--role", "agent", "--kafka", options_.kafka, "--engine", engine.url(),
              "--base", base, "--data-dir", dir() + "/" + name, "--port", std::to_string(port),
              "--max-loras", std::to_string(max_loras), "--session-timeout-ms",
              std::to_string(options_.session_timeout_ms)},
             port, ": ready (engine");
}

void Cluster::start_all(std::chrono::milliseconds timeout) {
  // Engines first (agents read them at start), then every other role at once.
  std::vector<Role*> started;
  for (auto* r : roles(RoleKind::engine))
    if (!r->running()) {
      r->spawn();
      started.push_back(r);
    }
  for (auto* r : started) r->wait_ready(timeout);
  started.clear();
  for (auto& r : roles_)
    if (r->kind() != RoleKind::engine && !r->running()) {
      r->spawn();
      started.push_back(r.get());
    }
  for (auto* r : started) r->wait_ready(timeout);
}

std::vector<Role*> Cluster::roles(RoleKind kind) const {
  std::vector<Role*> out;
  for (const auto& r : roles_)
    if (r->kind() == kind) out.push_back(r.get());
  return out;
}

Role& Cluster::role(const std::string& name) const {
  for (const auto& r : roles_)
    if (r->name() == name) return *r;
  throw std::invalid_argument("no role " + name);
}

std::string Cluster::logs() const {
  std::string out;
  for (const auto& r : roles_) out += r->logs();
  return out;
}

// ---- PrivateBroker -----------------------------------------------------------------------

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// pid is gone (or a zombie nobody of ours will reap).
bool process_gone(int pid) {
  if (::kill(pid, 0) != 0) return true;
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

int run_script(const std::vector<std::string>& argv, std::string* output) {
  Process p(argv);
  while (p.running()) std::this_thread::sleep_for(50ms);
  if (output) *output = p.output();
  return p.stop(SIGKILL);  // already exited: its code
}

std::string env_value(const std::string& env_file, const std::string& name) {
  std::istringstream in(read_file(env_file));
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(name + "=")) return line.substr(name.size() + 1);
  return {};
}

}  // namespace

PrivateBroker::PrivateBroker() {
  const char* src = std::getenv("LORAPLANE_SOURCE_DIR");
  source_dir_ = src ? src : ".";
  auto base = std::filesystem::temp_directory_path() / "loraplane-broker-XXXXXX";
  std::string pattern = base.string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  std::string out;
  // Its client port from free_port(), so the restart finds it free.
  const int rc = run_script({"/bin/bash", source_dir_ + "/ops/kafka/start", "--dir", dir_,
                             "--port", std::to_string(free_port())},
                            &out);
  if (rc != 0) throw std::runtime_error("ops/kafka/start failed (" + std::to_string(rc) + "):\n" + out);
  bootstrap_ = env_value(dir_ + "/broker.env", "LORAPLANE_KAFKA");
  pid_ = std::atoi(env_value(dir_ + "/broker.env", "LORAPLANE_KAFKA_PID").c_str());
  if (bootstrap_.empty() || pid_ <= 0)
    throw std::runtime_error("ops/kafka/start wrote no broker.env:\n" + out);
}

PrivateBroker::~PrivateBroker() {
  // ops/kafka/stop stops the pid in broker.pid (the restarted one too) and removes the dir.
  try {
    run_script({"/bin/bash", source_dir_ + "/ops/kafka/stop", "--dir", dir_}, nullptr);
  } catch (...) {
  }
  if (restarted_) restarted_->stop(SIGKILL);
}

void PrivateBroker::kill() {
  if (pid_ <= 0) return;
  // ops/kafka/start formats a fresh log dir, so a restart reruns the JVM's own command line.
  const std::string proc = "/proc/" + std::to_string(pid_);
  auto cmdline = read_file(proc + "/cmdline");
  std::error_code ec;
  auto exe = std::filesystem::read_symlink(proc + "/exe", ec);
  if (cmdline.empty() || ec) throw std::runtime_error("broker pid " + std::to_string(pid_) + " not found");
  argv_.clear();
  std::size_t begin = 0;
  for (std::size_t i = 0; i < cmdline.size(); ++i)
    if (cmdline[i] == '\0') {
      argv_.push_back(cmdline.substr(begin, i - begin));
      begin = i + 1;
    }
  argv_.at(0) = exe.string();
  if (restarted_) {
    restarted_->stop(SIGKILL);
  } else {
    ::kill(pid_, SIGKILL);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!process_gone(pid_) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
  }
  pid_ = -1;
}

void PrivateBroker::restart() {
  if (argv_.empty()) throw std::runtime_error("PrivateBroker::restart without kill");
  if (restarted_) restarted_->stop(SIGKILL);
  restarted_ = std::make_unique<Process>(argv_);
  pid_ = restarted_->pid();
  std::ofstream(dir_ + "/broker.pid", std::ios::trunc) << pid_ << '\n';
  ++restarts_;
  // KafkaRaftServer's INFO line (ops/kafka/log4j2.properties keeps it).
  if (!restarted_->wait_for_line("Kafka Server started", 120s))
    throw std::runtime_error("restarted broker did not start:\n" + restarted_->output());
}

// ---- client calls ------------------------------------------------------------------------

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

json::object json_object(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) throw std::runtime_error("not a JSON object: " + body.substr(0, 500));
  return v.as_object();
}

TenantKey create_tenant(std::uint16_t gateway, const std::string& admin_token,
                        const std::string& name, const std::string& tier) {
  auto r = call(gateway, "POST", "/admin/v1/tenants",
                json::serialize(json::object{{"name", name}, {"tier", tier}}), bearer(admin_token));
  if (r.status != 201) throw std::runtime_error("create tenant: " + std::to_string(r.status) + " " + r.body + r.error);
  auto o = json_object(r.body);
  return {std::string(o["id"].as_string()), std::string(o["api_key"].as_string())};
}

Answer upload(std::uint16_t gateway, const std::string& key, const FormFields& fields,
              const std::string& file, std::chrono::milliseconds timeout) {
  const std::string boundary = "----loraplane-cluster-" + random_base62(12);
  auto headers = bearer(key);
  headers["Content-Type"] = multipart_content_type(boundary);
  return call(gateway, "POST", "/v1/adapters/upload", multipart_body(boundary, fields, file),
              headers, timeout);
}

std::string eventually(const std::function<std::string()>& check, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string missing;
  while (std::chrono::steady_clock::now() < deadline) {
    missing = check();
    if (missing.empty()) return {};
    std::this_thread::sleep_for(250ms);
  }
  return missing;
}

Answer import_repo(std::uint16_t gateway, const std::string& key, const std::string& name,
                   const std::string& base, const std::string& repo,
                   std::chrono::milliseconds timeout) {
  return call(gateway, "POST", "/v1/adapters",
              json::serialize(json::object{{"name", name}, {"base_model", base}, {"repo", repo}}),
              bearer(key), timeout);
}

std::vector<json::object> list_adapters(std::uint16_t gateway, const std::string& key) {
  std::vector<json::object> out;
  std::string after;
  for (int page = 0; page < 1000; ++page) {
    auto r = call(gateway, "GET", "/v1/adapters?limit=100" + (after.empty() ? "" : "&after=" + after),
                  {}, bearer(key));
    if (r.status != 200)
      throw std::runtime_error("list adapters: " + std::to_string(r.status) + " " + r.body + r.error);
    auto body = json_object(r.body);
    for (auto& a : body["data"].as_array()) out.push_back(a.as_object());
    if (!body["has_more"].as_bool() || out.empty()) break;
    after = std::string(out.back()["id"].as_string());
  }
  return out;
}

json::object settle(std::uint16_t gateway, const std::string& key, const std::string& id,
                    std::chrono::milliseconds timeout) {
  json::object last;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = call(gateway, "GET", "/v1/adapters/" + id, {}, bearer(key));
    if (r.status == 200) {
      last = json_object(r.body);
      auto status = last["status"].as_string();
      if (status == "ready" || status == "failed") return last;
    } else if (r.answered()) {
      last = json::object{{"http_status", r.status}, {"body", r.body}};
    }
    std::this_thread::sleep_for(100ms);
  }
  return last;
}

json::array engines(std::uint16_t gateway, const std::string& admin_token) {
  auto r = call(gateway, "GET", "/admin/v1/engines", {}, bearer(admin_token));
  if (r.status != 200)
    throw std::runtime_error("GET /admin/v1/engines: " + std::to_string(r.status) + " " + r.body + r.error);
  return json_object(r.body)["data"].as_array();
}

std::vector<std::string> engine_loras(std::uint16_t engine) {
  auto r = call(engine, "GET", "/v1/models");
  if (r.status != 200)
    throw std::runtime_error("engine /v1/models: " + std::to_string(r.status) + " " + r.body + r.error);
  std::vector<std::string> out;
  auto body = json_object(r.body);
  for (auto& m : body["data"].as_array()) {
    auto& o = m.as_object();
    const auto* parent = o.if_contains("parent");
    if (parent && parent->is_string()) out.emplace_back(o.at("id").as_string());
  }
  return out;
}

std::optional<std::string> stored_sha256(std::uint16_t storage, const std::string& sha256) {
  http::CallOptions options;
  options.max_body_bytes = std::size_t{600} * 1000 * 1000;
  auto r = http::call(http::Endpoint{"127.0.0.1", storage, ""}, "GET",
                      "/internal/v1/blobs/" + sha256, {}, {}, options);
  if (!r) throw std::runtime_error("storage node :" + std::to_string(storage) + ": " + r.error().message);
  if (r->status == 404) return std::nullopt;
  if (r->status != 200)
    throw std::runtime_error("blob " + sha256 + ": " + std::to_string(r->status) + " " + r->body);
  return sha256_hex(r->body);
}

std::string toy_adapter_file(int rank, std::uint32_t seed, int dim) {
  const std::string p = "base_model.model.model.layers.0.self_attn.q_proj.";
  const auto r = static_cast<std::uint64_t>(rank);
  const auto d = static_cast<std::uint64_t>(dim);
  const std::uint64_t a_bytes = r * d * 2, b_bytes = d * r * 2;
  const std::string ds = std::to_string(d);
  std::string header = "{\"" + p + "lora_A.weight\":{\"dtype\":\"F16\",\"shape\":[" +
                       std::to_string(r) + "," + ds + "],\"data_offsets\":[0," +
                       std::to_string(a_bytes) + "]},\"" + p +
                       "lora_B.weight\":{\"dtype\":\"F16\",\"shape\":[" + ds + "," +
                       std::to_string(r) + "],\"data_offsets\":[" + std::to_string(a_bytes) + "," +
                       std::to_string(a_bytes + b_bytes) + "]}}";
  std::string out(8, '\0');
  for (std::size_t i = 0; i < 8; ++i)
    out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  out += header;
  const auto data = out.size();
  out.resize(data + a_bytes + b_bytes, '\0');
  // Small F16 values (exponent bits clear) from the seed: every file hashes differently.
  std::uint32_t x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i + 1 < a_bytes + b_bytes; i += 2) {
    x = x * 1664525u + 1013904223u;
    out[data + i] = static_cast<char>(x >> 24);
    out[data + i + 1] = static_cast<char>((x >> 16) & 0x03);
  }
  return out;
}

}  // namespace loraplane::test
