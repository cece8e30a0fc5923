// A job about one adapter (loraplane.jobs, key = tenant id): the fields every kind carries.
// The kind's own part (upload, hf_import, stored) is the caller's to fill in.
#pragma once

#include <cstdint>
#include <string>

#include "common/sha256.hpp"
#include "schema/types.hpp"

namespace loraplane::schema {

inline Job adapter_job(JobKind kind, std::string tenant_id, const Adapter& adapter,
                       std::int64_t created_at) {
  Job job;
  job.job_id = "job_" + random_base62(20);
  job.kind = kind;
  job.tenant_id = std::move(tenant_id);
  job.adapter_id = adapter.id;
  job.name = adapter.name;
  job.base_model = adapter.base_model;
  job.created_at = created_at;
  return job;
}

}  // namespace loraplane::schema
