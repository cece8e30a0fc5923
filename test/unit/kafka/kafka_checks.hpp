// Behaviour checks of the Kafka seam that hold for any cluster: run by the unit suite against
// librdkafka's mock cluster and by the integration suite against a real broker. Each check makes
// its own topics under `prefix`, so reruns against a long-lived broker never collide.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "common/kafka.hpp"

namespace loraplane::kafka::test {

// Messages a handler saw, shared with the test thread.
class Seen {
 public:
  void add(const Message& m);
  std::vector<Message> snapshot() const;
  std::size_t size() const;
  // Waits until at least n messages were seen.
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::vector<Message> messages_;
};

// A name no earlier run used ("<stem>-<random hex>").
std::string unique_name(std::string_view stem);

// Produces through the awaitable API from a private io_context; returns the delivery status.
Status produce_sync(Producer& producer, std::string_view topic, std::string_view key,
                    std::optional<std::string_view> value, std::vector<Header> headers = {});

// Same through produce_delivered: where the message landed, or why it failed.
Result<Delivered> produce_delivered_sync(Producer& producer, std::string_view topic,
                                         std::string_view key,
                                         std::optional<std::string_view> value,
                                         std::vector<Header> headers = {});

void create_topic(Cluster& cluster, const std::string& name, int partitions,
                  int max_message_bytes = 2 * 1024 * 1024);

// Prints (never asserts) the latency of 200 sequential awaitable produces.
void report_produce_latency(Producer& producer, const std::string& topic);

// The awaitable produce completes ok and a group consumer sees key, value and headers.
void check_roundtrip(Cluster& cluster, const std::string& prefix);
// A null value arrives as a tombstone; an empty value does not.
void check_tombstone(Cluster& cluster, const std::string& prefix);
// Handled::retry redelivers the same message (and nothing after it first).
void check_retry_redelivers(Cluster& cluster, const std::string& prefix);
// A second group member after the first stopped starts at the first message not done.
void check_group_resumes_after_commit(Cluster& cluster, const std::string& prefix);
// A second member joining takes over some partitions: every message is handled, exactly once
// on a real broker (the old owner commits before it gives a partition up; the mock cluster's
// coordinator refuses those commits, so there it is at-least-once).
void check_group_shares_partitions(Cluster& cluster, const std::string& prefix);
// Two table readers each see every message of every partition and report caught_up.
void check_table_readers(Cluster& cluster, const std::string& prefix);
// A message over the producer's max_message_bytes fails at once with limit_exceeded.
void check_producer_size_limit(Cluster& cluster, const std::string& prefix);
// produce_owned: every payload is handed over (not copied), arrives whole and in order, and each
// report says where it landed, though the caller's strings are gone once the calls return.
void check_owned_payloads(Cluster& cluster, const std::string& prefix);

// start_lanes: a message held by its handler holds up only its own partition; each partition's
// messages are handled in order (a retry included); a second consumer of the group after a
// stop sees only what came after.
void check_lanes(Cluster& cluster, const std::string& prefix);

}  // namespace loraplane::kafka::test
