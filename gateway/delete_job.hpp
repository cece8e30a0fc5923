// The delete job of one adapter (loraplane.jobs, key = tenant id), as DELETE /v1/adapters/{id}
// and DELETE /admin/v1/tenants/{id} both queue it.
#pragma once

#include <cstdint>

#include "schema/adapter_job.hpp"

namespace loraplane::gateway {

inline schema::Job delete_job(const schema::AdapterState& state, std::int64_t now) {
  return schema::adapter_job(schema::JobKind::remove, state.tenant_id, state.adapter, now);
}

}  // namespace loraplane::gateway
