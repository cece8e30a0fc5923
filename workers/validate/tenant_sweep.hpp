// What is left of a deleted tenant. DELETE /admin/v1/tenants/{id} queues a delete job for each
// adapter the deleting gateway knows of, but another gateway may accept an upload or import for
// the tenant until it reads the deletion, and the deleting gateway's own view of the adapters
// lags the validate worker's writes. The validate worker finishes the sweep from its own view:
// when its tenant reader reads a deletion, once at start-up for every tenant deleted before, and
// when its adapters reader reads a live adapter of a tenant already deleted (one that sweep
// could not see yet), it queues a delete job for each of the tenant's adapters not yet being
// deleted.
//
// Why that view is enough: the worker that owns the tenant's partition of loraplane.jobs puts
// each of its own writes into its view as soon as they are acknowledged, so every adapter it has
// admitted, validated or made ready is there; an adapter whose job it has not taken yet is
// deleted at admission (JobHandler::tenant_gone). A delete job lands behind any job of the
// adapter already queued in that partition, so an upload in progress finishes first and is then
// deleted. Every worker of the group sweeps; a second delete of an adapter finds it gone and
// changes nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string_view>

#include "common/kafka.hpp"
#include "common/result.hpp"
#include "workers/validate/adapter_view.hpp"

namespace loraplane::validate {

// Queues a delete job (loraplane.jobs, key = tenant id) for each adapter of the tenant in
// `adapters` that is not being deleted, and waits up to `timeout` (or until `stopping`) for all
// their delivery reports. Returns how many were queued; an error if any was not acknowledged
// (sweeping again is safe). The jobs carry `request_id`, if not empty: that of the record that
// caused the sweep (the tenant's deletion, or a live adapter of the tenant read after it).
Result<std::size_t> sweep_deleted_tenant(kafka::Producer& producer, const AdapterView& adapters,
                                         std::string_view tenant_id, std::string_view request_id,
                                         std::chrono::milliseconds timeout,
                                         const std::atomic<bool>& stopping);

// The same for every adapter whose delete a crash or a Kafka error cut short (`deleting`, no
// tombstone), of any tenant: its delete job, run by the worker that owns the tenant's
// partition, finishes it. Run by a worker when it starts taking jobs.
Result<std::size_t> sweep_unfinished_deletes(kafka::Producer& producer, const AdapterView& adapters,
                                             std::chrono::milliseconds timeout,
                                             const std::atomic<bool>& stopping);

}  // namespace loraplane::validate
