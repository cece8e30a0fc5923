// Consumers: one thread per consumer polls librdkafka and runs the handler. Group mode commits a
// partition's offset only after the handler returned Handled::done; table-reader mode assigns
// every partition from the beginning under a throw-away group id and never commits. A retry
// pauses just that partition for a bounded back-off and seeks back to the message, so the other
// partitions keep flowing and the consumer never moves past an unhandled message.
//
// With lanes (start_lanes, common/kafka_lanes.hpp) the polling thread hands each message to a
// pool of handler threads and pauses its partition until the handler is done; then the offset
// is stored and the partition resumed with a seek to the next message (what librdkafka had
// prefetched for it was dropped by the pause), or, on a retry, the back-off above applies.
//
// Commits are asynchronous and coalesced (at most every kCommitInterval, or when the consumer is
// idle), then synchronous on revocation and stop. Delivery is at-least-once either way; async
// commits only widen the window of redelivery after a crash from "one message" to "the last
// 200 ms", and they keep a round trip per message off the handler thread.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "common/kafka_claims.hpp"
#include "common/kafka_impl.hpp"
#include "common/kafka_lanes.hpp"

namespace loraplane::kafka {
namespace impl {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kCommitInterval = 200ms;
constexpr auto kRetryFirst = 100ms;
constexpr auto kRetryMax = 2s;
constexpr auto kStartupTimeout = 10s;
constexpr auto kBrokerCallTimeout = 5s;
constexpr auto kLogEvery = 1s;  // consumer error events are logged at most this often

using PartitionKey = std::pair<std::string, std::int32_t>;

struct PartitionState {
  std::int64_t target = -1;  // end offset when assigned; -1 until queried
  std::int64_t next = -1;    // last handled offset + 1 (or the end offset at EOF)
  bool reached = false;
  int retries = 0;  // consecutive retries of the same message
  std::int64_t retry_offset = -1;
  std::optional<Clock::time_point> resume_at;  // paused for a retry back-off until then
  bool in_hand = false;  // lanes: a message of it is with a handler thread (it is paused)
  prometheus::Gauge* lag = nullptr;
};

std::string random_group_id(const std::string& client_id) {
  std::random_device rd;
  return fmt::format("loraplane-table-{}-{:08x}{:08x}", client_id, rd(), rd());
}

PartitionListPtr one_partition(const std::string& topic, std::int32_t partition,
                               std::int64_t offset) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = offset;
  return list;
}

Message to_message(const rd_kafka_message_t& m) {
  Message msg;
  msg.topic = std::string(unprefixed(rd_kafka_topic_name(m.rkt)));
  msg.partition = m.partition;
  msg.offset = m.offset;
  if (m.key != nullptr) msg.key.assign(static_cast<const char*>(m.key), m.key_len);
  if (m.payload != nullptr) {
    msg.value.assign(static_cast<const char*>(m.payload), m.len);
  } else {
    msg.tombstone = true;
  }
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(&m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      msg.headers.push_back(
          {name, value ? std::string(static_cast<const char*>(value), size) : std::string()});
    }
  }
  msg.timestamp_ms = rd_kafka_message_timestamp(&m, nullptr);
  return msg;
}

// Set on a lane's thread to its consumer: stop() from a handler only asks the loop to end.
thread_local const void* tl_lane_of = nullptr;

class ConsumerImpl final : public Consumer {
 public:
  ConsumerImpl(const Cluster& cluster, ConsumerOptions options, Handler handler,
               std::size_t lanes = 0, LaneHandler lane_handler = {})
      : options_(std::move(options)),
        handler_(std::move(handler)),
        lane_handler_(std::move(lane_handler)),
        claims_(cluster.claims()),
        label_(group_mode() ? options_.group_id : "table:" + options_.client_id) {
    if (options_.topics.empty()) throw std::invalid_argument("kafka consumer without topics");
    // Names as the broker knows them from here on (Message::topic gets the plain name back).
    for (auto& topic : options_.topics) topic = prefixed(topic);
    if (group_mode()) options_.group_id = prefixed(options_.group_id);
    auto conf = make_conf(cluster.bootstrap(), options_.client_id);
    // librdkafka wants a group id even for assign(); a table reader's is unique and unused.
    set_conf(conf.get(), "group.id",
             group_mode() ? options_.group_id : random_group_id(options_.client_id));
    set_conf(conf.get(), "enable.auto.commit", "false");
    set_conf(conf.get(), "enable.auto.offset.store", "false");
    set_conf(conf.get(), "auto.offset.reset", "earliest");
    set_conf(conf.get(), "enable.partition.eof", "true");
    // librdkafka's mock broker does not answer a waiting fetch when new records arrive, so
    // every hop of the upload pipeline would wait out fetch.wait.max.ms (500 ms). Real brokers
    // do, and there a short wait only multiplies idle fetch requests (broker CPU).
    if (cluster.is_mock())
      set_conf(conf.get(), "fetch.wait.max.ms", std::to_string(options_.mock_fetch_wait.count()));
    if (group_mode()) {
      const auto session = options_.session_timeout.count();
      set_conf(conf.get(), "session.timeout.ms", std::to_string(session));
      set_conf(conf.get(), "heartbeat.interval.ms",
               std::to_string(std::max<std::int64_t>(100, session / 3)));
      // A handler runs on the polling thread, and a validate worker's import of a 500 MB file
      // from a slow Hub can outlast librdkafka's default 5 minutes between polls, after which
      // the member leaves its group and another one starts the same job. Stalls are bounded
      // by the handlers' own I/O timeouts; this bounds only legitimately long work.
      set_conf(conf.get(), "max.poll.interval.ms", "1800000");
    }
    rd_kafka_conf_set_opaque(conf.get(), this);
    if (group_mode()) {
      rd_kafka_conf_set_rebalance_cb(conf.get(), &ConsumerImpl::rebalance_cb);
      rd_kafka_conf_set_offset_commit_cb(conf.get(), &ConsumerImpl::commit_cb);
    }
    rk_ = make_handle(RD_KAFKA_CONSUMER, std::move(conf));
    rd_kafka_poll_set_consumer(rk_.get());
    group_mode() ? subscribe() : assign_all();
    if (lanes > 0) {
      if (!group_mode()) throw std::invalid_argument("kafka consumer lanes need a group");
      wake_ = rd_kafka_queue_get_consumer(rk_.get());
      for (std::size_t i = 0; i < lanes; ++i) lanes_.emplace_back([this, i] { lane_loop(i); });
    }
    thread_ = std::thread([this] { run(); });
  }

  ~ConsumerImpl() override { stop(); }

  bool caught_up() const override { return caught_up_.load(); }

  bool wait_caught_up(std::chrono::milliseconds timeout) const override {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [this] { return caught_up_.load() || stop_.load(); });
    return caught_up_.load();
  }

  // From the handler itself this only asks the loop to end; the destructor joins.
  void stop() override {
    stop_ = true;
    if (tl_lane_of == this) return;  // a lane joining the thread that waits for it would hang
    {
      std::lock_guard lock(stop_mutex_);
      if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    }
    std::lock_guard lock(mutex_);
    cv_.notify_all();
  }

 private:
  bool group_mode() const { return !options_.group_id.empty(); }

  void subscribe() {
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size())));
    for (const auto& t : options_.topics) {
      rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
    }
    if (const auto err = rd_kafka_subscribe(rk_.get(), list.get())) {
      throw std::runtime_error(to_error(err, "subscribe " + label_).message);
    }
  }

  void assign_all() {
    auto md = fetch_metadata(rk_.get(), kStartupTimeout);
    if (!md) throw std::runtime_error("table reader " + label_ + ": " + md.error().message);
    PartitionListPtr list(rd_kafka_topic_partition_list_new(8));
    for (const auto& name : options_.topics) {
      const auto* t = find_topic(**md, name);
      if (t == nullptr || t->err != RD_KAFKA_RESP_ERR_NO_ERROR || t->partition_cnt == 0) {
        throw std::runtime_error("table reader " + label_ + ": topic " + name + " not available");
      }
      for (int p = 0; p < t->partition_cnt; ++p) {
        rd_kafka_topic_partition_list_add(list.get(), name.c_str(), t->partitions[p].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
      }
    }
    add_partitions(*list);
    if (const auto err = rd_kafka_assign(rk_.get(), list.get())) {
      throw std::runtime_error(to_error(err, "assign " + label_).message);
    }
    assigned_ = true;
  }

  void run() {
    while (!stop_.load()) {
      if (!lanes_.empty()) take_finished();
      if (!unmeasured_.empty()) record_end_offsets();
      resume_due();
      MessagePtr m(rd_kafka_consumer_poll(rk_.get(), to_timeout_ms(poll_timeout())));
      if (!m) {
        if (dirty_) commit_stored(true);
        continue;
      }
      m->err ? on_event(*m) : lanes_.empty() ? handle(*m) : hand_over(*m);
      if (dirty_ && Clock::now() - last_commit_ >= kCommitInterval) commit_stored(true);
    }
    if (!lanes_.empty()) {
      stop_lanes();
      rd_kafka_queue_destroy(wake_);  // before the handle goes, as librdkafka requires
      wake_ = nullptr;
    }
    close();
  }

  // Lanes: the message goes to a handler thread; its partition waits, paused, until it is done.
  void hand_over(const rd_kafka_message_t& m) {
    PartitionKey key{rd_kafka_topic_name(m.rkt), m.partition};
    auto it = partitions_.find(key);
    if (it == partitions_.end()) return;  // not assigned any more
    auto& ps = it->second;
    // Fetched before the pause took effect: it comes again after the message in hand.
    if (ps.in_hand || ps.resume_at) return;
    Message message;
    try {
      message = to_message(m);
      if (claims_ != nullptr) claims_->redeem(message);
    } catch (const std::exception& e) {
      spdlog::error("kafka consumer {}: reading {} [{}] @{}: {}", label_, key.first, key.second,
                    m.offset, e.what());
      retry_later(key, m.offset, ps);
      return;
    }
    ps.in_hand = true;
    auto list = one_partition(key.first, key.second, m.offset);
    rd_kafka_pause_partitions(rk_.get(), list.get());
    {
      std::lock_guard lock(lane_mutex_);
      tasks_.push_back(Task{std::move(key), m.offset, std::move(message)});
    }
    task_ready_.notify_one();
  }

  void lane_loop(std::size_t lane) {
    tl_lane_of = this;
    for (;;) {
      Task task;
      {
        std::unique_lock lock(lane_mutex_);
        task_ready_.wait(lock, [this] { return lanes_stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      Handled result = Handled::retry;
      try {
        result = lane_handler_(lane, task.message);
      } catch (const std::exception& e) {
        spdlog::error("kafka consumer {}: handler threw on {} [{}] @{}: {}", label_,
                      task.key.first, task.key.second, task.offset, e.what());
      } catch (...) {
        spdlog::error("kafka consumer {}: handler threw on {} [{}] @{}", label_, task.key.first,
                      task.key.second, task.offset);
      }
      {
        std::lock_guard lock(lane_mutex_);
        finished_.push_back(Finished{std::move(task.key), task.offset, result});
      }
      task_finished_.notify_all();
      rd_kafka_queue_yield(wake_);  // the polling thread takes it at once
    }
  }

  // On the polling thread: the offsets of finished messages are stored and their partitions
  // resumed at the next message (resume_due), or backed off for a retry.
  void take_finished() {
    std::deque<Finished> finished;
    {
      std::lock_guard lock(lane_mutex_);
      finished.swap(finished_);
    }
    for (auto& f : finished) {
      consumed_counter(f.key.first).Increment();
      auto it = partitions_.find(f.key);
      if (it == partitions_.end()) continue;
      auto& ps = it->second;
      ps.in_hand = false;
      if (f.result == Handled::done) {
        on_done(f.key, f.offset, ps);
        ps.retry_offset = f.offset + 1;  // where resume_due seeks
        ps.resume_at = Clock::now();
      } else {
        retry_later(f.key, f.offset, ps);
      }
    }
  }

  // Waits until no message of these partitions (all of them: nullptr) is in hand.
  void wait_in_hand(const rd_kafka_topic_partition_list_t* list) {
    auto busy = [&] {
      for (const auto& [key, ps] : partitions_) {
        if (!ps.in_hand) continue;
        if (list == nullptr) return true;
        for (int i = 0; i < list->cnt; ++i)
          if (key.first == list->elems[i].topic && key.second == list->elems[i].partition)
            return true;
      }
      return false;
    };
    for (take_finished(); busy(); take_finished()) {
      std::unique_lock lock(lane_mutex_);
      task_finished_.wait_for(lock, 100ms, [this] { return !finished_.empty(); });
    }
  }

  void stop_lanes() {
    wait_in_hand(nullptr);
    {
      std::lock_guard lock(lane_mutex_);
      lanes_stop_ = true;
    }
    task_ready_.notify_all();
    for (auto& lane : lanes_) lane.join();
  }

  void handle(const rd_kafka_message_t& m) {
    PartitionKey key{rd_kafka_topic_name(m.rkt), m.partition};
    auto& ps = partitions_[key];
    Handled result = Handled::retry;
    try {
      auto message = to_message(m);
      if (claims_ != nullptr) claims_->redeem(message);
      result = handler_(message);
    } catch (const std::exception& e) {
      spdlog::error("kafka consumer {}: handler threw on {} [{}] @{}: {}", label_, key.first,
                    key.second, m.offset, e.what());
    } catch (...) {
      spdlog::error("kafka consumer {}: handler threw on {} [{}] @{}", label_, key.first,
                    key.second, m.offset);
    }
    consumed_counter(key.first).Increment();
    result == Handled::done ? on_done(key, m.offset, ps) : retry_later(key, m.offset, ps);
  }

  void on_done(const PartitionKey& key, std::int64_t offset, PartitionState& ps) {
    ps.retries = 0;
    ps.next = offset + 1;
    if (group_mode()) {
      auto list = one_partition(key.first, key.second, ps.next);
      const auto err = rd_kafka_offsets_store(rk_.get(), list.get());
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        dirty_ = true;
      } else {  // revoked under us: the next owner redelivers, which handlers must tolerate
        spdlog::warn("kafka consumer {}: cannot store offset for {} [{}]", label_, key.first,
                     key.second);
      }
    }
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (ps.lag != nullptr &&
        rd_kafka_get_watermark_offsets(rk_.get(), key.first.c_str(), key.second, &low, &high) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
      ps.lag->Set(static_cast<double>(std::max<std::int64_t>(0, high - ps.next)));
    }
    update_reached(ps);
  }

  // Pausing drops what librdkafka prefetched for the partition; resume_due() seeks back to the
  // message when the back-off ends, so it is delivered again and nothing after it runs first.
  void retry_later(const PartitionKey& key, std::int64_t offset, PartitionState& ps) {
    ps.retries = ps.retry_offset == offset ? ps.retries + 1 : 1;
    ps.retry_offset = offset;
    const auto backoff = std::min<std::chrono::milliseconds>(
        kRetryMax, kRetryFirst * (1 << std::min(ps.retries - 1, 5)));
    ps.resume_at = Clock::now() + backoff;
    auto list = one_partition(key.first, key.second, offset);
    rd_kafka_pause_partitions(rk_.get(), list.get());
    spdlog::info("kafka consumer {}: retry {} [{}] @{} in {} ms (attempt {})", label_, key.first,
                 key.second, offset, backoff.count(), ps.retries);
  }

  // Resume before seeking: a seek wakes the fetcher at once while a bare resume waits for its
  // next idle wake-up (up to 1 s). Whatever is fetched between the two calls carries an older
  // version than the seek's barrier and is dropped, so nothing past the message slips through.
  void resume_due() {
    const auto now = Clock::now();
    for (auto& [key, ps] : partitions_) {
      if (!ps.resume_at || *ps.resume_at > now) continue;
      auto list = one_partition(key.first, key.second, ps.retry_offset);
      rd_kafka_resume_partitions(rk_.get(), list.get());
      rd_kafka_error_t* error =
          rd_kafka_seek_partitions(rk_.get(), list.get(), to_timeout_ms(kBrokerCallTimeout));
      if (error != nullptr || list->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        spdlog::warn("kafka consumer {}: seek {} [{}] failed: {}", label_, key.first, key.second,
                     error ? rd_kafka_error_string(error) : rd_kafka_err2str(list->elems[0].err));
        if (error != nullptr) rd_kafka_error_destroy(error);
        rd_kafka_pause_partitions(rk_.get(), list.get());  // stay put rather than skip it
        ps.resume_at = now + kRetryFirst;
        continue;
      }
      ps.resume_at.reset();
    }
  }

  std::chrono::milliseconds poll_timeout() const {
    auto timeout = options_.poll_timeout;
    for (const auto& [key, ps] : partitions_) {
      if (ps.resume_at) timeout = std::min(timeout, remaining(*ps.resume_at));
    }
    return timeout;
  }

  void on_event(const rd_kafka_message_t& m) {
    if (m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      auto it = partitions_.find({rd_kafka_topic_name(m.rkt), m.partition});
      if (it == partitions_.end()) return;
      it->second.next = std::max(it->second.next, m.offset);
      if (it->second.lag != nullptr) it->second.lag->Set(0);
      update_reached(it->second);
      return;
    }
    std::int64_t similar = 0;
    if (log_allowed(last_error_log_ms_, suppressed_errors_, kLogEvery, &similar)) {
      spdlog::warn("kafka consumer {}: {} {}: {} ({} more errors not logged)", label_,
                   m.rkt ? rd_kafka_topic_name(m.rkt) : "", rd_kafka_err2name(m.err),
                   rd_kafka_message_errstr(&m), similar);
    }
  }

  void add_partitions(const rd_kafka_topic_partition_list_t& list) {
    for (int i = 0; i < list.cnt; ++i) {
      PartitionKey key{list.elems[i].topic, list.elems[i].partition};
      auto& ps = partitions_[key];
      ps = PartitionState{};
      ps.lag = &lag_gauge(label_, key.first, key.second);
      unmeasured_.push_back(std::move(key));
    }
  }

  // The end offsets that define "caught up", queried once per assignment.
  void record_end_offsets() {
    std::vector<PartitionKey> failed;
    for (auto& key : unmeasured_) {
      auto it = partitions_.find(key);
      if (it == partitions_.end()) continue;  // revoked meanwhile
      std::int64_t low = 0;
      std::int64_t high = 0;
      const auto err = rd_kafka_query_watermark_offsets(rk_.get(), key.first.c_str(), key.second,
                                                        &low, &high,
                                                        to_timeout_ms(kBrokerCallTimeout));
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        spdlog::warn("kafka consumer {}: end offset of {} [{}]: {}", label_, key.first,
                     key.second, rd_kafka_err2name(err));
        failed.push_back(std::move(key));
        continue;
      }
      it->second.target = high;
      if (low >= high) it->second.next = std::max(it->second.next, high);  // empty
      update_reached(it->second);
    }
    unmeasured_ = std::move(failed);
    check_caught_up();
  }

  void update_reached(PartitionState& ps) {
    if (!ps.reached && ps.target >= 0 && ps.next >= ps.target) {
      ps.reached = true;
      check_caught_up();
    }
  }

  void check_caught_up() {
    if (caught_up_.load() || !assigned_ || !unmeasured_.empty()) return;
    for (const auto& [key, ps] : partitions_) {
      if (!ps.reached) return;
    }
    std::lock_guard lock(mutex_);
    caught_up_ = true;
    cv_.notify_all();
  }

  void commit_stored(bool async) {
    dirty_ = false;
    last_commit_ = Clock::now();
    const auto err = rd_kafka_commit(rk_.get(), nullptr, async ? 1 : 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      spdlog::warn("kafka consumer {}: commit failed: {}", label_, rd_kafka_err2name(err));
    }
  }

  void forget(const rd_kafka_topic_partition_list_t& list) {
    for (int i = 0; i < list.cnt; ++i) {
      auto it = partitions_.find({list.elems[i].topic, list.elems[i].partition});
      if (it == partitions_.end()) continue;
      if (it->second.resume_at) {
        auto one = one_partition(it->first.first, it->first.second, 0);
        rd_kafka_resume_partitions(rk_.get(), one.get());  // pause would outlive the assignment
      }
      if (it->second.lag != nullptr) it->second.lag->Set(0);
      partitions_.erase(it);
    }
  }

  void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list) {
    const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk_.get())) ==
                             "COOPERATIVE";
    rd_kafka_error_t* error = nullptr;
    spdlog::debug("kafka consumer {}: {} {} partitions", label_,
                  err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assigned" : "revoked", list->cnt);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      add_partitions(*list);
      if (cooperative) {
        error = rd_kafka_incremental_assign(rk_.get(), list);
      } else {
        rd_kafka_assign(rk_.get(), list);
      }
      assigned_ = true;
    } else {
      if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        spdlog::error("kafka consumer {}: rebalance: {}", label_, rd_kafka_err2name(err));
      }
      // As without lanes, where the handler holds up the poll: the next owner starts only
      // once the messages in hand are done.
      if (!lanes_.empty()) wait_in_hand(list);
      // The next owner starts after our last done message.
      if (!rd_kafka_assignment_lost(rk_.get())) commit_stored(false);
      forget(*list);
      if (cooperative) {
        error = rd_kafka_incremental_unassign(rk_.get(), list);
      } else {
        rd_kafka_assign(rk_.get(), nullptr);
        assigned_ = false;
      }
    }
    if (error != nullptr) {
      spdlog::error("kafka consumer {}: rebalance: {}", label_, rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    }
  }

  void close() {
    if (group_mode()) commit_stored(false);
    if (const auto err = rd_kafka_consumer_close(rk_.get())) {
      spdlog::warn("kafka consumer {}: close: {}", label_, rd_kafka_err2name(err));
    }
    for (auto& [key, ps] : partitions_) {
      if (ps.lag != nullptr) ps.lag->Set(0);
    }
    rk_.reset();
  }

  static void rebalance_cb(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* list, void* opaque) {
    static_cast<ConsumerImpl*>(opaque)->on_rebalance(err, list);
  }

  static void commit_cb(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* /*offsets*/, void* opaque) {
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      spdlog::warn("kafka consumer {}: offset commit failed: {}",
                   static_cast<ConsumerImpl*>(opaque)->label_, rd_kafka_err2name(err));
    }
  }

  ConsumerOptions options_;
  Handler handler_;
  LaneHandler lane_handler_;
  ClaimStore* claims_;  // mock clusters: large upload chunks live in its spool
  std::string label_;  // group id, or "table:<client id>"; log lines and the lag gauge
  HandlePtr rk_;
  // Touched only on the consumer thread (rebalance callbacks run inside consumer_poll), or
  // before it starts.
  std::map<PartitionKey, PartitionState> partitions_;
  std::vector<PartitionKey> unmeasured_;
  bool assigned_ = false;
  bool dirty_ = false;  // offsets stored since the last commit
  Clock::time_point last_commit_ = Clock::now();

  std::atomic<std::int64_t> last_error_log_ms_{-kLogEvery.count()};
  std::atomic<std::int64_t> suppressed_errors_{0};

  std::atomic<bool> stop_{false};
  std::atomic<bool> caught_up_{false};
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::mutex stop_mutex_;

  // Lanes: messages in hand go to the handler threads and come back finished.
  struct Task {
    PartitionKey key;
    std::int64_t offset = 0;
    Message message;
  };
  struct Finished {
    PartitionKey key;
    std::int64_t offset = 0;
    Handled result = Handled::retry;
  };
  std::vector<std::thread> lanes_;
  rd_kafka_queue_t* wake_ = nullptr;  // the consumer queue: a yield ends the poll at once
  std::mutex lane_mutex_;
  std::condition_variable task_ready_;
  std::condition_variable task_finished_;
  std::deque<Task> tasks_;          // under lane_mutex_
  std::deque<Finished> finished_;   // under lane_mutex_
  bool lanes_stop_ = false;         // under lane_mutex_

  std::thread thread_;
};

}  // namespace
}  // namespace impl

std::unique_ptr<Consumer> Consumer::start(const Cluster& cluster, ConsumerOptions options,
                                          Handler handler) {
  return std::make_unique<impl::ConsumerImpl>(cluster, std::move(options), std::move(handler));
}

std::unique_ptr<Consumer> start_lanes(const Cluster& cluster, ConsumerOptions options,
                                      std::size_t lanes, LaneHandler handler) {
  return std::make_unique<impl::ConsumerImpl>(cluster, std::move(options), Consumer::Handler{},
                                              std::max<std::size_t>(lanes, 1), std::move(handler));
}

}  // namespace loraplane::kafka
