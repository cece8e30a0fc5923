// The idempotent acks=all producer: bounded local queue, non-blocking enqueue (a full queue is an
// immediate Errc::unavailable), and a dedicated thread serving delivery reports, each carrying
// its own callback as the message opaque.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "common/kafka_claims.hpp"
#include "common/kafka_gate.hpp"
#include "common/kafka_impl.hpp"
#include "common/kafka_owned.hpp"
#include "common/metrics.hpp"

namespace loraplane::kafka {
namespace impl {
namespace {

using namespace std::chrono_literals;

constexpr auto kPollInterval = 100ms;
constexpr auto kCloseFlushMax = 5s;
// How often flush() looks whether the delivery gate still holds one of its reports.
constexpr auto kGateCheck = 2ms;
// Failed deliveries are counted per message but logged at most this often.
constexpr auto kLogEvery = 1s;

std::string_view result_label(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return "ok";
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return "queue_full";
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
      return "too_large";
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
      return "timed_out";
    default:
      return "error";
  }
}

void report(Producer::DeliveredCallback* done, const std::string& topic,
            Result<Delivered> result) {
  if (done == nullptr) return;
  try {
    (*done)(std::move(result));
  } catch (const std::exception& e) {
    spdlog::error("kafka delivery callback for {} threw: {}", topic, e.what());
  }
  delete done;
}

void finish(Producer::DeliveredCallback* done, const std::string& topic, rd_kafka_resp_err_t err,
            Delivered where) {
  produced_counter(topic, result_label(err)).Increment();
  // A full queue is back-pressure the caller handles; it is counted, not logged per message.
  static std::atomic<std::int64_t> last_log_ms{-kLogEvery.count()};
  static std::atomic<std::int64_t> suppressed{0};
  std::int64_t similar = 0;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__QUEUE_FULL &&
      log_allowed(last_log_ms, suppressed, kLogEvery, &similar)) {
    spdlog::warn("kafka produce to {} failed: {} ({} more failures not logged)", topic,
                 rd_kafka_err2name(err), similar);
  }
  report(done, topic,
         err == RD_KAFKA_RESP_ERR_NO_ERROR ? Result<Delivered>(where)
                                           : Result<Delivered>(to_error(err, "produce to " + topic)));
}

// A record the broker has but the embedded journal did not write in time (or before its
// producer closed): the caller is told it failed, as a restart could still undo it.
void finish_unjournaled(Producer::DeliveredCallback* done, const std::string& topic) {
  produced_counter(topic, "not_journaled").Increment();
  static std::atomic<std::int64_t> last_log_ms{-kLogEvery.count()};
  static std::atomic<std::int64_t> suppressed{0};
  std::int64_t similar = 0;
  if (log_allowed(last_log_ms, suppressed, kLogEvery, &similar)) {
    spdlog::warn("kafka produce to {}: the journal did not record it in time ({} more not logged)",
                 topic, similar);
  }
  report(done, topic,
         make_error(Errc::unavailable,
                    "produce to " + topic + ": the embedded journal did not record it in time"));
}

// watch_brokers: whether any broker connection is up, as the statistics say, also exported as
// loraplane_kafka_brokers_reachable{client} (1/0) for dashboards and alerts.
struct BrokerWatch {
  std::atomic<bool> reachable{true};
  prometheus::Gauge* gauge = nullptr;
};

prometheus::Gauge& reachable_gauge(const std::string& client_id) {
  static auto& family = prometheus::BuildGauge()
                            .Name("loraplane_kafka_brokers_reachable")
                            .Help("1 while a producer watching its brokers has a connection up")
                            .Register(metrics::registry());
  return family.Add({{"client", client_id}});
}

// What librdkafka's callbacks see of a producer (the configuration's opaque).
struct Context {
  BrokerWatch watch;  // written by on_stats (watch_brokers)
  // Mock clusters: reports of records on gated topics wait for the journal (kafka_gate.hpp).
  DeliveryGate* gate = nullptr;
  std::chrono::milliseconds gate_timeout{30000};
};

void on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
  auto* done = static_cast<Producer::DeliveredCallback*>(m->_private);
  std::string topic = rd_kafka_topic_name(m->rkt);
  const Delivered where{m->partition, m->offset};
  auto* context = static_cast<Context*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && done != nullptr && context->gate != nullptr) {
    const auto plain = unprefixed(topic);
    if (context->gate->gated(plain)) {
      context->gate->hold(plain, m->partition, m->offset, context,
                          std::chrono::steady_clock::now() + context->gate_timeout,
                          [done, topic, where](bool written) {
                            if (written)
                              finish(done, topic, RD_KAFKA_RESP_ERR_NO_ERROR, where);
                            else
                              finish_unjournaled(done, topic);
                          });
      return;
    }
  }
  finish(done, topic, m->err, where);
}

// The opaque is the producer's Context. A broker entry reads "state":"UP" while its
// connection is up (librdkafka STATISTICS.md); no such entry means no broker takes messages now.
int on_stats(rd_kafka_t* /*rk*/, char* json, size_t len, void* opaque) {
  if (opaque != nullptr) {
    auto* watch = &static_cast<Context*>(opaque)->watch;
    const std::string_view stats(json, len);
    const bool up = stats.find("\"state\":\"UP\"") != std::string_view::npos;
    watch->reachable.store(up);
    if (watch->gauge != nullptr) watch->gauge->Set(up ? 1 : 0);
  }
  return 0;  // librdkafka frees the JSON
}

ConfPtr producer_conf(const Cluster& cluster, const ProducerOptions& options, Context* context) {
  auto conf = make_conf(cluster.bootstrap(), options.client_id);
  set_conf(conf.get(), "enable.idempotence", "true");
  set_conf(conf.get(), "acks", "all");
  set_conf(conf.get(), "linger.ms", "5");
  // Same key -> same partition as Java clients (tools, Kafka Streams) would pick.
  set_conf(conf.get(), "partitioner", "murmur2_random");
  set_conf(conf.get(), "message.timeout.ms", std::to_string(options.delivery_timeout.count()));
  set_conf(conf.get(), "message.max.bytes", std::to_string(options.max_message_bytes));
  set_conf(conf.get(), "batch.size",
           std::to_string(std::min(options.max_message_bytes, 1'000'000)));
  const auto kbytes = std::max<std::size_t>(1, options.queue_max_bytes / 1024);
  set_conf(conf.get(), "queue.buffering.max.kbytes", std::to_string(kbytes));
  context->gate = cluster.delivery_gate();
  context->gate_timeout = options.delivery_timeout;
  rd_kafka_conf_set_opaque(conf.get(), context);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), on_delivery);
  if (options.watch_brokers) {
    set_conf(conf.get(), "statistics.interval.ms", "1000");
    rd_kafka_conf_set_stats_cb(conf.get(), on_stats);
    context->watch.gauge = &reachable_gauge(options.client_id);
    context->watch.gauge->Set(1);
  }
  return conf;
}

class ProducerImpl final : public Producer {
 public:
  ProducerImpl(const Cluster& cluster, ProducerOptions options)
      : options_(std::move(options)),
        claims_(cluster.claims()),
        rk_(make_handle(RD_KAFKA_PRODUCER, producer_conf(cluster, options_, &context_))),
        poller_([this] { poll_loop(); }) {
    // Learn the partitions of our topics now rather than on the first message: the first
    // produce to an unknown topic otherwise waits for a metadata round (about a second on the
    // mock cluster), which would land on a user's first upload.
    for (const auto& spec : default_topics()) {
      if (auto* topic = rd_kafka_topic_new(rk_.get(), prefixed(spec.name).c_str(), nullptr))
        warm_topics_.push_back(topic);
    }
  }

  ~ProducerImpl() override {
    const auto grace = std::min<std::chrono::milliseconds>(options_.delivery_timeout,
                                                           kCloseFlushMax);
    if (!flush(grace)) {
      if (const auto queued = rd_kafka_outq_len(rk_.get()); queued > 0) {
        spdlog::warn("kafka producer {}: {} messages undelivered at close, purging",
                     options_.client_id, queued);
        rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      } else if (context_.gate != nullptr) {
        spdlog::warn("kafka producer {}: {} delivery reports still wait for the journal at close",
                     options_.client_id, context_.gate->held(&context_));
      }
    }
    stop_ = true;
    poller_.join();
    for (auto* topic : warm_topics_) rd_kafka_topic_destroy(topic);
    // Serve the purge reports so every callback runs (and is freed) before the handle dies.
    const auto deadline = std::chrono::steady_clock::now() + kCloseFlushMax;
    while (rd_kafka_outq_len(rk_.get()) > 0 && remaining(deadline).count() > 0) {
      rd_kafka_poll(rk_.get(), to_timeout_ms(kPollInterval));
    }
    // Reports the journal has not released by now fail, before what they refer to is gone.
    if (context_.gate != nullptr) context_.gate->cancel(&context_);
  }

  void produce(std::string_view topic, std::string_view key,
               std::optional<std::string_view> value, std::vector<Header> headers,
               DeliveryCallback done) override {
    DeliveredCallback report;
    if (done) {
      report = [done = std::move(done)](Result<Delivered> r) {
        done(r.ok() ? Status() : Status(r.error()));
      };
    }
    produce_delivered(topic, key, value, std::move(headers), std::move(report));
  }

  void produce_delivered(std::string_view topic, std::string_view key,
                         std::optional<std::string_view> value, std::vector<Header> headers,
                         DeliveredCallback done) override {
    enqueue(topic, key, value, std::move(headers), std::move(done), RD_KAFKA_MSG_F_COPY);
  }

  // librdkafka sends the payload from `value`'s buffer; the report's callback owns that buffer,
  // and librdkafka reads the payload no more once it has served the report.
  bool produce_owned(std::string_view topic, std::string_view key, std::string value,
                     std::vector<Header> headers, DeliveredCallback done) {
    auto owned = std::make_shared<const std::string>(std::move(value));
    const std::string_view payload(*owned);
    DeliveredCallback report = [owned, done = std::move(done)](Result<Delivered> r) {
      if (done) done(std::move(r));
    };
    // On the mock cluster, enqueue() may put a large value in the claim store (a copy) and send
    // an empty one instead.
    return enqueue(topic, key, payload, std::move(headers), std::move(report), 0);
  }

  // Done once every report has run, including those the delivery gate holds.
  bool flush(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (rd_kafka_flush(rk_.get(), to_timeout_ms(timeout)) != RD_KAFKA_RESP_ERR_NO_ERROR)
      return false;
    if (context_.gate == nullptr) return true;
    while (context_.gate->held(&context_) > 0) {
      if (remaining(deadline).count() == 0) return false;
      std::this_thread::sleep_for(kGateCheck);
    }
    return true;
  }

  bool brokers_reachable() const override {
    return context_.watch.reachable.load(std::memory_order_relaxed);
  }

 private:
  // False when the value went to the claim store (a copy) instead of to librdkafka as given.
  bool enqueue(std::string_view topic, std::string_view key,
               std::optional<std::string_view> value, std::vector<Header> headers,
               DeliveredCallback done, int msgflags) {
    std::string topic_name = prefixed(topic);
    bool as_given = true;
    if (claims_ != nullptr && value && ClaimStore::wanted(topic, value->size())) {
      as_given = false;
      auto id = claims_->put(*value);
      if (!id) {
        if (done) done(id.error());
        return as_given;
      }
      headers.push_back({std::string(kClaimHeader), std::move(id).value()});
      value = std::string_view();
    }
    auto* callback = done ? new DeliveredCallback(std::move(done)) : nullptr;
    HeadersPtr hdrs;
    if (!headers.empty()) {
      hdrs.reset(rd_kafka_headers_new(headers.size()));
      for (const auto& h : headers) {
        rd_kafka_header_add(hdrs.get(), h.key.data(), static_cast<ssize_t>(h.key.size()),
                            h.value.data(), static_cast<ssize_t>(h.value.size()));
      }
    }
    std::array<rd_kafka_vu_t, 6> vu{};
    std::size_t n = 0;
    vu[n].vtype = RD_KAFKA_VTYPE_TOPIC;
    vu[n++].u.cstr = topic_name.c_str();
    vu[n].vtype = RD_KAFKA_VTYPE_KEY;
    vu[n].u.mem.ptr = const_cast<char*>(key.data());
    vu[n++].u.mem.size = key.size();
    vu[n].vtype = RD_KAFKA_VTYPE_VALUE;  // a null value is a tombstone
    vu[n].u.mem.ptr = value ? const_cast<char*>(value->data()) : nullptr;
    vu[n++].u.mem.size = value ? value->size() : 0;
    vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[n++].u.i = msgflags;
    vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu[n++].u.ptr = callback;
    if (hdrs) {
      vu[n].vtype = RD_KAFKA_VTYPE_HEADERS;
      vu[n++].u.headers = hdrs.get();
    }
    rd_kafka_error_t* error = rd_kafka_produceva(rk_.get(), vu.data(), n);
    if (error == nullptr) {
      (void)hdrs.release();  // owned by the message now
      return as_given;
    }
    const auto err = rd_kafka_error_code(error);
    rd_kafka_error_destroy(error);
    finish(callback, topic_name, err, Delivered{});
    return as_given;
  }

  void poll_loop() {
    while (!stop_.load(std::memory_order_relaxed)) {
      rd_kafka_poll(rk_.get(), to_timeout_ms(kPollInterval));
      if (context_.gate != nullptr) context_.gate->expire(std::chrono::steady_clock::now());
    }
  }

  ProducerOptions options_;
  Context context_;
  ClaimStore* claims_;  // mock clusters only
  HandlePtr rk_;
  std::vector<rd_kafka_topic_t*> warm_topics_;  // app handles kept until close
  std::atomic<bool> stop_{false};
  std::thread poller_;  // last: starts after everything it uses exists
};

}  // namespace
}  // namespace impl

std::unique_ptr<Producer> Producer::create(const Cluster& cluster, ProducerOptions options) {
  return std::make_unique<impl::ProducerImpl>(cluster, std::move(options));
}

bool produce_owned(Producer& producer, std::string_view topic, std::string_view key,
                   std::string value, std::vector<Header> headers,
                   Producer::DeliveredCallback done) {
  if (auto* ours = dynamic_cast<impl::ProducerImpl*>(&producer))
    return ours->produce_owned(topic, key, std::move(value), std::move(headers), std::move(done));
  producer.produce_delivered(topic, key, value, std::move(headers), std::move(done));
  return false;
}

}  // namespace loraplane::kafka
