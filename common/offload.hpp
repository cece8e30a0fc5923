// Blocking file work (writes, fsync, renames, hashing of large bodies) off the I/O threads: runs
// a function on a small process-wide thread pool and resumes the caller on its own executor.
#pragma once

#include <functional>

#include "common/asio.hpp"
#include "common/result.hpp"

namespace loraplane {

// `fn` runs on another thread while the caller is suspended: it may use the caller's locals by
// reference. An exception from `fn` becomes Errc::internal.
awaitable<Status> offload(std::function<Status()> fn);

}  // namespace loraplane
