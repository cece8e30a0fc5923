// Blocking calls whose timeouts work. Beast's blocking operations ignore a tcp_stream's
// expires_after ("Timeouts are not available when performing blocking calls"), so a peer that
// accepts the connection and then goes silent would hold the caller forever. `run_blocking`
// starts the asynchronous form of the operation on the caller's own io_context and runs it to
// completion, so the stream's timer applies (the operation ends with beast::error::timeout).
//
//   stream.expires_after(30s);
//   auto ec = run_blocking(io, [&](auto done) { bhttp::async_write(stream, req, done); });
#pragma once

#include <boost/system/error_code.hpp>
#include <atomic>
#include <chrono>
#include <utility>

#include "common/asio.hpp"

namespace loraplane {

// `io` must be private to the calling thread (nothing else runs it).
template <class Start>
boost::system::error_code run_blocking(asio::io_context& io, Start&& start) {
  boost::system::error_code result = asio::error::operation_aborted;
  std::forward<Start>(start)([&result](boost::system::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

// The same, also ended when `*stop` turns true (checked every 100 ms): `stream` (a
// beast::tcp_stream, or the lowest layer of the stream in use) is cancelled, and the operation
// ends with operation_aborted, so a stopping worker never waits out a silent peer's timeout.
template <class Stream, class Start>
boost::system::error_code run_blocking(asio::io_context& io, Stream& stream,
                                       const std::atomic<bool>* stop, Start&& start) {
  boost::system::error_code result = asio::error::operation_aborted;
  bool finished = false;
  std::forward<Start>(start)([&](boost::system::error_code ec, auto&&...) {
    result = ec;
    finished = true;
  });
  io.restart();
  while (!finished) {
    io.run_for(std::chrono::milliseconds(100));
    if (!finished && stop != nullptr && stop->load()) {
      stream.cancel();
      io.restart();
      io.run();
    }
  }
  return result;
}

}  // namespace loraplane
