// The one Asio/Beast prelude: every file that uses Asio includes this, never boost/asio directly.
#pragma once

#include <utility>  // first: Boost.Asio's awaitable needs std::exchange declared.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <exception>
#include <string_view>

namespace loraplane {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
constexpr auto use_nothrow_awaitable = asio::as_tuple(asio::use_awaitable);

// Completion handler for co_spawn that logs an escaped exception instead of swallowing it
// (what `detached` would do). `what` names the coroutine in the log line.
struct LogExceptions {
  std::string_view what;
  void operator()(std::exception_ptr ep) const;
};

}  // namespace loraplane
