// The delete job of one adapter (loraplane.jobs, key = tenant id), as DELETE /v1/adapters/{id}
// and DELETE /admin/v1/tenants/{id} both queue it.
#pragma once

#include <cstdint>

#include "common/sha256.hpp"
#include "schema/types.hpp"

namespace loraplane::gateway {

inline schema::Job delete_job(const schema::AdapterState& state, std::int64_t now) {
  schema::Job job;
  job.job_id = "job_" + random_base62(20);
  job.kind = schema::JobKind::remove;
  job.tenant_id = state.tenant_id;
  job.adapter_id = state.adapter.id;
  job.name = state.adapter.name;
  job.base_model = state.adapter.base_model;
  job.created_at = now;
  return job;
}

}  // namespace loraplane::gateway
