#include "workers/validate/tenant_sweep.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/request_id.hpp"
#include "common/unix_time.hpp"
#include "schema/adapter_job.hpp"
#include "schema/json.hpp"

namespace loraplane::validate {

namespace {

// Delivery reports of several messages, counted down on librdkafka's thread.
struct Reports {
  std::mutex mutex;
  std::condition_variable all_in;
  std::size_t pending = 0;
  std::optional<Error> first_error;
};

constexpr std::chrono::milliseconds kStopPoll{200};

// Queues a delete job for each of `left` and waits for their delivery reports.
Result<std::size_t> queue_deletes(kafka::Producer& producer,
                                  const std::vector<schema::AdapterState>& left,
                                  std::string_view request_id, std::chrono::milliseconds timeout,
                                  const std::atomic<bool>& stopping) {
  if (left.empty()) return std::size_t{0};
  // Shared: a report that arrives after we gave up must still find it alive.
  auto reports = std::make_shared<Reports>();
  reports->pending = left.size();
  const auto now = unix_now_seconds();
  for (const auto& state : left) {
    const auto job = schema::adapter_job(schema::JobKind::remove, state.tenant_id, state.adapter,
                                         now);
    producer.produce(kafka::kJobs, state.tenant_id, schema::to_json(job),
                     kafka::request_id_headers(request_id),
                     [reports](const Status& status) {
                       std::lock_guard lock(reports->mutex);
                       if (!status && !reports->first_error) reports->first_error = status.error();
                       if (--reports->pending == 0) reports->all_in.notify_all();
                     });
  }
  // Waited in slices, so that stop() is not held up for a whole timeout while Kafka is down.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(reports->mutex);
  while (reports->pending > 0 && !stopping.load() && std::chrono::steady_clock::now() < deadline)
    reports->all_in.wait_for(lock, kStopPoll);
  if (reports->pending > 0)
    return make_error(Errc::unavailable,
                      std::to_string(reports->pending) + " of " + std::to_string(left.size()) +
                          " delete jobs unacknowledged after " + std::to_string(timeout.count()) +
                          " ms");
  if (reports->first_error) return *reports->first_error;
  return left.size();
}

}  // namespace

Result<std::size_t> sweep_deleted_tenant(kafka::Producer& producer, const AdapterView& adapters,
                                         std::string_view tenant_id, std::string_view request_id,
                                         std::chrono::milliseconds timeout,
                                         const std::atomic<bool>& stopping) {
  return queue_deletes(producer, adapters.undeleted(tenant_id), request_id, timeout, stopping);
}

Result<std::size_t> sweep_unfinished_deletes(kafka::Producer& producer, const AdapterView& adapters,
                                             std::chrono::milliseconds timeout,
                                             const std::atomic<bool>& stopping) {
  return queue_deletes(producer, adapters.deleting(), "", timeout, stopping);
}

}  // namespace loraplane::validate
