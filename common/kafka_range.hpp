// Reading a known range of one partition: how workers re-read an upload's chunks, whose
// partition and offsets the gateway recorded from the delivery reports.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

#include "common/kafka.hpp"

namespace loraplane::kafka {

// Calls `visit` for every message of `partition` with first_offset <= offset <= last_offset, in
// offset order, on the calling thread (blocking; not for an I/O thread). Memory stays bounded
// whatever the range (at most 32 MiB prefetched plus one 16 MiB fetch). Stops at the first
// error `visit` returns.
// Errc::not_found when the range is no longer in the log (retention), Errc::unavailable when
// no message arrived for `idle_timeout`.
Status read_range(const Cluster& cluster, std::string_view topic, std::int32_t partition,
                  std::int64_t first_offset, std::int64_t last_offset,
                  const std::function<Status(const Message&)>& visit,
                  std::chrono::milliseconds idle_timeout = std::chrono::seconds(30));

}  // namespace loraplane::kafka
