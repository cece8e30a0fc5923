// 200 of DELETE /admin/v1/tenants/{id}: {"id","object":"tenant.deleted","deleted":true,
// "adapters_deleted"}. Its own header (not types.hpp / json.hpp, which nearly every file
// includes) because only the admin handler and the schema tests use it.
#pragma once

#include <cstdint>
#include <string>

#include "schema/json.hpp"

namespace loraplane::schema {

struct TenantDeleted {
  std::string id;
  std::int64_t adapters_deleted = 0;  // delete jobs queued by this call
};

template <>
Result<TenantDeleted> parse<TenantDeleted>(std::string_view, const ParseLimits&);
std::string to_json(const TenantDeleted& value);

}  // namespace loraplane::schema
