// Agent facade (agent.hpp): wires the core to its listener, the load-events consumer group and
// the engine loop, and takes them down in order.
#include "workers/agent/agent.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "common/health.hpp"
#include "common/http.hpp"
#include "schema/types.hpp"
#include "workers/agent/core.hpp"
#include "workers/agent/routes.hpp"

namespace loraplane::agent {

namespace {

void check(const AgentOptions& o) {
  if (o.engine_url.empty()) throw std::invalid_argument("agent: --engine is required");
  if (!schema::valid_base_model(o.base_model))
    throw std::invalid_argument("agent: --base must be a base model id");
  if (o.data_dir.empty()) throw std::invalid_argument("agent: --data-dir is required");
  if (o.disk_budget_bytes == 0) throw std::invalid_argument("agent: the disk budget must be > 0");
}

}  // namespace

Agent::Agent(asio::io_context& io, const kafka::Cluster& cluster, AgentOptions options)
    : io_(io), cluster_(cluster) {
  check(options);
  core_ = std::make_shared<Core>(io, cluster, std::move(options));
}

Agent::~Agent() {
  try {
    stop();
  } catch (const std::exception& e) {
    spdlog::error("agent: stopping: {}", e.what());
  }
  consumer_.reset();
  table_reader_.reset();
  server_.reset();
}

void Agent::start() {
  const auto& o = core_->options();
  if (auto st = core_->recover_disk(); !st)
    throw std::runtime_error("agent: data dir " + o.data_dir + ": " + st.error().message);
  const std::string role = "agent:" + o.engine_id;
  if (o.register_health) {
    health::register_role(role);
    health::set_ready(role, false);
  }
  http::ServerOptions server_options;
  server_options.role = "agent";
  server_options.host = o.host;
  server_options.port = o.port;
  server_options.max_body_bytes = kMaxEnsureBody;
  server_ = std::make_unique<http::Server>(io_, server_options, make_router(core_));
  server_->start();
  std::string url = o.advertised_url.empty()
                        ? "http://" + o.host + ":" + std::to_string(server_->port())
                        : o.advertised_url;
  while (url.ends_with('/')) url.pop_back();
  core_->set_url(url);
  url_ = url;

  kafka::ConsumerOptions consumer;
  consumer.client_id = "loraplane-agent";
  consumer.group_id = "loraplane-agent-" + o.engine_id;  // one group per engine: a broadcast
  consumer.topics = {std::string(kafka::kLoadEvents)};
  consumer.session_timeout = o.session_timeout;
  auto core = core_;
  consumer_ = kafka::Consumer::start(
      cluster_, consumer, [core](const kafka::Message& m) { return core->on_message(m); });
  std::weak_ptr<kafka::Consumer> reader = consumer_;
  std::weak_ptr<kafka::Consumer> table;
  if (o.read_adapters_table) {
    kafka::ConsumerOptions table_options;  // no group: every partition, from the beginning
    table_options.client_id = "loraplane-agent";
    table_options.topics = {std::string(kafka::kAdapters)};
    table_reader_ = kafka::Consumer::start(
        cluster_, table_options, [core](const kafka::Message& m) { return core->on_state(m); });
    table = table_reader_;
  }
  const bool with_table = o.read_adapters_table;
  core_->set_consumer_caught_up([reader, table, with_table] {
    auto events = reader.lock();
    auto states = table.lock();
    if (!events || (with_table && !states)) return false;  // the agent is going away
    return events->caught_up() && (!with_table || states->caught_up());
  });
  core_->start_loops();
  spdlog::info("agent {} for engine {} listening on {}", o.engine_id, o.engine_url, url);
}

void Agent::stop() {
  if (stopped_.exchange(true)) return;
  if (consumer_) consumer_->stop();
  if (table_reader_) table_reader_->stop();
  if (server_) server_->stop();
  asio::post(io_, [core = core_] { core->shutdown(); });
  if (core_->options().register_health)
    health::set_ready("agent:" + core_->options().engine_id, false);
}

std::uint16_t Agent::port() const { return server_ ? server_->port() : 0; }

std::string Agent::url() const { return url_; }

const std::string& Agent::engine_id() const { return core_->options().engine_id; }

bool Agent::ready() const { return core_->ready() && !stopped_.load(); }

schema::Residency Agent::residency() const { return core_->residency(); }

}  // namespace loraplane::agent
