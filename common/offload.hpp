// Blocking file work (writes, fsync, renames, hashing of large bodies) off the I/O threads: runs
// a function on a small process-wide thread pool and resumes the caller on its own executor.
#pragma once

#include <functional>
#include <memory>

#include "common/asio.hpp"
#include "common/result.hpp"

namespace loraplane {

// `fn` runs on another thread while the caller is suspended: it may use the caller's locals by
// reference. An exception from `fn` becomes Errc::internal.
awaitable<Status> offload(std::function<Status()> fn);

// Work started on the same pool now and awaited later, so that the caller overlaps it with its
// own I/O (a download hashes and writes one piece while it receives the next). One job at a
// time. The job's completion is posted to `executor`, which must run on one thread (or be a
// strand). The job may use the caller's locals by reference: `wait()` for it before they go;
// the destructor blocks until a job still running has returned, so nothing it uses is freed
// under it even when the caller leaves early.
class Background {
 public:
  explicit Background(asio::any_io_executor executor);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  void start(std::function<Status()> fn);
  // The started job's status (then idle again); Status{} when nothing was started.
  awaitable<Status> wait();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace loraplane
