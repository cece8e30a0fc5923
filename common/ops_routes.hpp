// /healthz and /metrics, served by every role's HTTP listener.
#pragma once

#include "common/http.hpp"

namespace loraplane::http {

// GET /healthz → 200 {"status":"ok","roles":{...}} once every role in this process is ready,
// 503 {"status":"starting",...} before. GET /metrics → Prometheus text format.
void add_ops_routes(Router& router);

}  // namespace loraplane::http
