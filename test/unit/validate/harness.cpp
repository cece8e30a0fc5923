#include "test/unit/validate/harness.hpp"

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <future>
#include <thread>

#include "common/sha256.hpp"
#include "common/unix_time.hpp"
#include "schema/json.hpp"
#include "schema/upload_headers.hpp"

namespace loraplane::validate::testing {

namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 60s;  // generous: ASan builds and a busy machine

constexpr std::string_view kCatalog = R"({"version":1,"models":[
  {"id":"toy-llama","hf_repo":"loraplane/toy-llama","kind":"chat","hidden_size":64,
   "intermediate_size":128,"num_layers":2,"num_heads":4,"num_kv_heads":2,"head_dim":16,
   "vocab_size":256},
  {"id":"bge-m3","hf_repo":"BAAI/bge-m3","kind":"embedding","hidden_size":1024,
   "intermediate_size":4096,"num_layers":24,"num_heads":16,"num_kv_heads":16,"head_dim":64,
   "vocab_size":250002}]})";

std::unique_ptr<Harness>& instance() {
  static std::unique_ptr<Harness> harness;
  return harness;
}

ModelCatalog test_catalog() {
  auto catalog = ModelCatalog::parse(kCatalog);
  if (!catalog) throw std::runtime_error(catalog.error().message);
  return std::move(catalog).value();
}

kafka::ConsumerOptions table(std::string client_id, std::string_view topic) {
  kafka::ConsumerOptions options;
  options.client_id = std::move(client_id);
  options.topics = {std::string(topic)};
  return options;
}

schema::AdapterState pending(const std::string& tenant_id, const std::string& adapter_id,
                             const std::string& name, const std::string& base_model,
                             schema::SourceType source) {
  schema::AdapterState state;
  state.seq = 1;
  state.tenant_id = tenant_id;
  state.updated_at = unix_now_seconds();
  state.adapter.id = adapter_id;
  state.adapter.name = name;
  state.adapter.base_model = base_model;
  state.adapter.status = schema::AdapterStatus::pending;
  state.adapter.source.type = source;
  state.adapter.created_at = state.updated_at;
  return state;
}

}  // namespace

std::string unique_id(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + std::to_string(++counter) + "_" + random_base62(8);
}

Harness& Harness::get() {
  if (!instance()) instance().reset(new Harness());
  return *instance();
}

void Harness::destroy() { instance().reset(); }

Harness::Harness() : cluster_(TestCluster::make()), catalog_(test_catalog()) {
  auto st = cluster_->ensure_topics(kafka::default_topics(), 10s);
  if (!st) throw std::runtime_error("ensure_topics: " + st.error().message);
  producer_ = kafka::Producer::create(*cluster_, {});
  adapter_reader_ = kafka::Consumer::start(
      *cluster_, table("test-adapters", kafka::kAdapters), [this](const kafka::Message& m) {
        std::lock_guard lock(mutex_);
        if (m.tombstone) {
          tombstoned_[m.key] = true;
        } else if (auto state = schema::parse<schema::AdapterState>(m.value)) {
          states_[m.key].push_back(std::move(state).value());
        }
        changed_.notify_all();
        return kafka::Handled::done;
      });
  event_reader_ = kafka::Consumer::start(
      *cluster_, table("test-events", kafka::kLoadEvents), [this](const kafka::Message& m) {
        std::lock_guard lock(mutex_);
        if (auto event = schema::parse<schema::LoadEvent>(m.value))
          events_[m.key].push_back(std::move(event).value());
        changed_.notify_all();
        return kafka::Handled::done;
      });
  start_worker();
}

void Harness::start_worker() {
  ValidateOptions options;
  options.group_id = TestCluster::group_id();
  // The mock cluster's coordinator waits out a departed member's session before it rebalances,
  // even after a clean leave: keep restart_worker() from waiting the default 45 s.
  options.session_timeout = 6s;
  // A job whose record never comes (a_new_job_whose_record_never_comes_is_dropped) holds its
  // partition this long.
  options.new_adapter_wait = 10s;
  // Small, so a_tenants_failed_adapters_are_bounded needs few uploads; above the 6 failures
  // bad_adapters_fail_naming_the_tensor_or_field makes for one tenant.
  options.max_failed_per_tenant = kMaxFailed;
  worker_ = std::make_unique<ValidateWorker>(*cluster_, catalog_, options);
  worker_->start();
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (!worker_->ready() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  if (!worker_->ready()) throw std::runtime_error("validate worker never became ready");
}

void Harness::restart_worker(const std::function<void()>& while_stopped) {
  worker_.reset();
  if (while_stopped) while_stopped();
  start_worker();
}

Harness::~Harness() {
  worker_.reset();
  adapter_reader_.reset();
  event_reader_.reset();
  producer_.reset();
  cluster_.reset();
}

void Harness::produce(std::string_view topic, const std::string& key,
                      const std::optional<std::string>& value, std::vector<kafka::Header> headers,
                      kafka::Delivered* where) {
  std::promise<Result<kafka::Delivered>> done;
  auto future = done.get_future();
  producer_->produce_delivered(
      topic, key, value, std::move(headers),
      [&done](Result<kafka::Delivered> r) { done.set_value(std::move(r)); });
  auto delivered = future.get();
  // The message is built eagerly: only touch error() on failure.
  BOOST_REQUIRE_MESSAGE(delivered.ok(), "produce to "
                                            << topic << ": "
                                            << (delivered ? "" : delivered.error().message));
  if (where != nullptr) *where = delivered.value();
}

void Harness::put_tenant(const std::string& tenant_id, schema::Tier tier, bool deleted) {
  schema::TenantRecord tenant;
  tenant.id = tenant_id;
  tenant.name = "name-" + tenant_id;
  tenant.tier = tier;
  tenant.deleted = deleted;
  tenant.created_at = unix_now_seconds();
  produce(kafka::kTenants, "tenant/" + tenant_id, schema::to_json(tenant));
}

void Harness::put_state(const schema::AdapterState& state) {
  produce(kafka::kAdapters, state.adapter.id, schema::to_json(state));
}

Sent Harness::upload(const std::string& tenant_id, const std::string& name, const UploadSpec& spec,
                     const std::string& base_model) {
  BOOST_REQUIRE(!spec.bytes.empty());
  schema::JobUpload u;
  u.upload_id = unique_id("upl_");
  u.chunk_count =
      static_cast<std::uint32_t>((spec.bytes.size() + spec.chunk_bytes - 1) / spec.chunk_bytes);
  u.size_bytes = spec.bytes.size();
  u.sha256 = spec.sha256.value_or(sha256_hex(spec.bytes));
  u.config = spec.config;
  u.lora_alpha = spec.lora_alpha;
  for (std::uint32_t i = 0; i < u.chunk_count; ++i) {
    schema::UploadChunkHeader header;
    header.upload_id = u.upload_id;
    header.index = i;
    header.last = i + 1 == u.chunk_count;
    if (header.last) header.count = u.chunk_count;
    const auto chunk = spec.bytes.substr(i * spec.chunk_bytes, spec.chunk_bytes);
    const auto copies = std::count(spec.repeat.begin(), spec.repeat.end(), i) + 1;
    for (std::ptrdiff_t c = 0; c < copies; ++c) {
      kafka::Delivered where;
      produce(kafka::kUploads, u.upload_id, chunk, schema::to_headers(header), &where);
      if (i == 0 && c == 0) u.first_offset = where.offset;
      u.partition = where.partition;
      u.last_offset = where.offset;
    }
  }
  Sent sent;
  sent.adapter_id = unique_id("adp_");
  auto state = pending(tenant_id, sent.adapter_id, name, base_model, schema::SourceType::upload);
  state.adapter.size_bytes = u.size_bytes;
  state.adapter.sha256 = u.sha256;
  sent.job.job_id = unique_id("job_");
  sent.job.kind = schema::JobKind::upload;
  sent.job.tenant_id = tenant_id;
  sent.job.adapter_id = sent.adapter_id;
  sent.job.name = name;
  sent.job.base_model = base_model;
  sent.job.created_at = state.adapter.created_at;
  sent.job.upload = std::move(u);
  send_job(sent.job);
  put_state(state);
  return sent;
}

Sent Harness::import(const std::string& tenant_id, const std::string& name) {
  Sent sent;
  sent.adapter_id = unique_id("adp_");
  auto state = pending(tenant_id, sent.adapter_id, name, "toy-llama", schema::SourceType::hf);
  state.adapter.source.repo = "someone/" + name;
  state.adapter.source.revision = "main";
  sent.job.job_id = unique_id("job_");
  sent.job.kind = schema::JobKind::import;
  sent.job.tenant_id = tenant_id;
  sent.job.adapter_id = sent.adapter_id;
  sent.job.name = name;
  sent.job.base_model = "toy-llama";
  sent.job.created_at = state.adapter.created_at;
  sent.job.hf_import = schema::JobImport{"someone/" + name, "main", std::nullopt};
  send_job(sent.job);
  put_state(state);
  return sent;
}

void Harness::send_job(const schema::Job& job) {
  produce(kafka::kJobs, job.tenant_id, schema::to_json(job));
}

schema::Job Harness::job_for(const Sent& sent, schema::JobKind kind) const {
  schema::Job job = sent.job;
  job.job_id = unique_id("job_");
  job.kind = kind;
  job.upload.reset();
  job.hf_import.reset();
  job.stored.reset();
  return job;
}

bool Harness::wait(const std::function<bool()>& done) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, kWait, done);
}

schema::AdapterState Harness::wait_state(
    const std::string& adapter_id, const std::function<bool(const schema::AdapterState&)>& ready) {
  std::optional<schema::AdapterState> found;
  const bool ok = wait([&] {
    auto it = states_.find(adapter_id);
    if (it == states_.end() || it->second.empty()) return false;
    const auto& newest =
        *std::max_element(it->second.begin(), it->second.end(),
                          [](const auto& a, const auto& b) { return a.seq < b.seq; });
    if (!ready(newest)) return false;
    found = newest;
    return true;
  });
  BOOST_REQUIRE_MESSAGE(ok, "adapter " << adapter_id << " never reached the expected state");
  return *found;
}

schema::AdapterState Harness::wait_status(const std::string& adapter_id,
                                          schema::AdapterStatus status) {
  return wait_state(adapter_id, [status](const auto& s) { return s.adapter.status == status; });
}

bool Harness::tombstoned(const std::string& adapter_id) const {
  std::lock_guard lock(mutex_);
  return tombstoned_.contains(adapter_id);
}

bool Harness::wait_tombstone(const std::string& adapter_id) {
  return wait([&] { return tombstoned_.contains(adapter_id); });
}

std::vector<schema::AdapterState> Harness::history(const std::string& adapter_id) const {
  std::lock_guard lock(mutex_);
  auto it = states_.find(adapter_id);
  return it == states_.end() ? std::vector<schema::AdapterState>{} : it->second;
}

std::vector<schema::LoadEvent> Harness::events(const std::string& adapter_id) const {
  std::lock_guard lock(mutex_);
  auto it = events_.find(adapter_id);
  return it == events_.end() ? std::vector<schema::LoadEvent>{} : it->second;
}

std::vector<schema::LoadEvent> Harness::wait_events(const std::string& adapter_id,
                                                    std::size_t count) {
  const bool ok = wait([&] {
    auto it = events_.find(adapter_id);
    return it != events_.end() && it->second.size() >= count;
  });
  BOOST_REQUIRE_MESSAGE(ok, "adapter " << adapter_id << " never got " << count << " load events");
  return events(adapter_id);
}

}  // namespace loraplane::validate::testing
