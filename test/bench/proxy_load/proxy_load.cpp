// proxy_load: the load generator of test/bench/proxy_bench (a benchmark tool, not a test).
//
// Sends one fixed HTTP/1.1 POST (a chat completion) over keep-alive connections to 127.0.0.1,
// either open-loop at a fixed rate (--rate R: request i is due at start + i/R; a request that
// finds no free connection waits for one, and its latency counts from when it was due, so a
// slow server cannot hide its queueing: no coordinated omission) or closed-loop (--rate 0:
// every connection sends its next request as soon as the previous answer is in, to find the
// maximum throughput). Prints one JSON object: counts, achieved rate and latency percentiles
// in microseconds of the requests due after the warm-up.
//
//   proxy_load --port P [--path /v1/chat/completions] --body-file F [--header 'K: V']...
//              [--rate R] [--duration S] [--warmup S] [--connections C]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using asio::awaitable;
using asio::use_awaitable;

namespace {

struct Config {
  std::uint16_t port = 0;
  std::string path = "/v1/chat/completions";
  std::string body_file;
  std::vector<std::string> headers;
  double rate = 0;  // 0: closed loop
  double duration = 10;
  double warmup = 2;
  int connections = 64;
};

struct Stats {
  std::vector<std::uint32_t> latencies_us;  // of requests due after the warm-up
  std::uint64_t sent = 0, ok = 0, http_errors = 0, io_errors = 0, measured = 0;
  Clock::time_point measure_from, measure_to;
};

class Load {
 public:
  Load(asio::io_context& io, const Config& c, std::string request)
      : io_(io), c_(c), request_(std::move(request)) {}

  Stats& stats() { return stats_; }

  awaitable<void> open_loop() {
    const auto start = Clock::now();
    stats_.measure_from = start + to_duration(c_.warmup);
    const auto end = start + to_duration(c_.duration);
    stats_.measure_to = end;
    asio::steady_timer timer(io_);
    const double interval = 1.0 / c_.rate;
    for (std::uint64_t i = 0;; ++i) {
      auto due = start + to_duration(i * interval);
      if (due >= end) break;
      if (due > Clock::now()) {
        timer.expires_at(due);
        co_await timer.async_wait(use_awaitable);
      }
      backlog_.push_back(due);
      if (busy_ < c_.connections) {
        ++busy_;
        asio::co_spawn(io_, worker(), asio::detached);
      }
    }
  }

  awaitable<void> closed_loop() {
    const auto start = Clock::now();
    stats_.measure_from = start + to_duration(c_.warmup);
    stats_.measure_to = start + to_duration(c_.duration);
    for (int i = 0; i < c_.connections; ++i) {
      ++busy_;
      asio::co_spawn(io_, closed_worker(), asio::detached);
    }
    co_return;
  }

 private:
  static Clock::duration to_duration(double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }

  struct Conn {
    explicit Conn(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    beast::flat_buffer buffer;
    bool open = false;
  };

  awaitable<bool> exchange(Conn& conn, Clock::time_point due) {
    if (!conn.open) {
      boost::system::error_code ec;
      tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), c_.port);
      conn.socket = tcp::socket(io_);
      co_await conn.socket.async_connect(ep, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        ++stats_.io_errors;
        co_return false;
      }
      conn.socket.set_option(tcp::no_delay(true));
      conn.buffer.clear();
      conn.open = true;
    }
    boost::system::error_code ec;
    ++stats_.sent;
    co_await asio::async_write(conn.socket, asio::buffer(request_),
                               asio::redirect_error(use_awaitable, ec));
    beast::http::response_parser<beast::http::string_body> parser;
    parser.body_limit(64 << 20);
    if (!ec)
      co_await beast::http::async_read(conn.socket, conn.buffer, parser,
                                       asio::redirect_error(use_awaitable, ec));
    const auto now = Clock::now();
    if (ec) {
      ++stats_.io_errors;
      conn.open = false;
      boost::system::error_code ignored;
      conn.socket.close(ignored);
      co_return false;
    }
    auto& res = parser.get();
    if (res.result_int() == 200) {
      ++stats_.ok;
    } else {
      ++stats_.http_errors;
      if (stats_.http_errors <= 3)
        std::fprintf(stderr, "proxy_load: HTTP %u: %.300s\n", res.result_int(), res.body().c_str());
    }
    if (due >= stats_.measure_from && due < stats_.measure_to) {
      ++stats_.measured;
      stats_.latencies_us.push_back(static_cast<std::uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - due).count()));
    }
    if (!res.keep_alive()) {
      conn.open = false;
      boost::system::error_code ignored;
      conn.socket.close(ignored);
    }
    co_return true;
  }

  // Takes due requests off the backlog until it is empty, on one connection.
  awaitable<void> worker() {
    std::unique_ptr<Conn> conn;
    if (idle_.empty()) {
      conn = std::make_unique<Conn>(io_);
    } else {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
    while (!backlog_.empty()) {
      auto due = backlog_.front();
      backlog_.pop_front();
      co_await exchange(*conn, due);
    }
    idle_.push_back(std::move(conn));
    --busy_;
  }

  awaitable<void> closed_worker() {
    Conn conn(io_);
    while (Clock::now() < stats_.measure_to) co_await exchange(conn, Clock::now());
    --busy_;
  }

  asio::io_context& io_;
  const Config& c_;
  std::string request_;
  Stats stats_;
  std::deque<Clock::time_point> backlog_;
  std::vector<std::unique_ptr<Conn>> idle_;
  int busy_ = 0;
};

std::uint32_t percentile(const std::vector<std::uint32_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  CLI::App app{"proxy_load: fixed-rate or closed-loop HTTP load on 127.0.0.1"};
  app.add_option("--port", c.port)->required();
  app.add_option("--path", c.path);
  app.add_option("--body-file", c.body_file)->required()->check(CLI::ExistingFile);
  app.add_option("--header", c.headers, "extra request header, 'Name: value'");
  app.add_option("--rate", c.rate, "requests per second; 0 = closed loop")->check(CLI::NonNegativeNumber);
  app.add_option("--duration", c.duration, "seconds, warm-up included")->check(CLI::PositiveNumber);
  app.add_option("--warmup", c.warmup, "seconds not measured")->check(CLI::NonNegativeNumber);
  app.add_option("--connections", c.connections)->check(CLI::Range(1, 4096));
  CLI11_PARSE(app, argc, argv);
  if (c.warmup >= c.duration) {
    std::cerr << "proxy_load: --warmup must be shorter than --duration\n";
    return 2;
  }

  std::ifstream in(c.body_file, std::ios::binary);
  std::stringstream body;
  body << in.rdbuf();
  std::string request = "POST " + c.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                        "Content-Type: application/json\r\nContent-Length: " +
                        std::to_string(body.str().size()) + "\r\n";
  for (const auto& h : c.headers) request += h + "\r\n";
  request += "\r\n" + body.str();

  asio::io_context io(1);
  Load load(io, c, request);
  asio::co_spawn(io, c.rate > 0 ? load.open_loop() : load.closed_loop(), asio::detached);
  io.run();

  auto& s = load.stats();
  std::sort(s.latencies_us.begin(), s.latencies_us.end());
  const double window = c.duration - c.warmup;
  boost::json::object out{{"rate", c.rate},
                          {"connections", c.connections},
                          {"sent", s.sent},
                          {"ok", s.ok},
                          {"http_errors", s.http_errors},
                          {"io_errors", s.io_errors},
                          {"measured", s.measured},
                          {"achieved_rps", static_cast<double>(s.measured) / window},
                          {"p50_us", percentile(s.latencies_us, 0.50)},
                          {"p90_us", percentile(s.latencies_us, 0.90)},
                          {"p99_us", percentile(s.latencies_us, 0.99)},
                          {"max_us", s.latencies_us.empty() ? 0u : s.latencies_us.back()}};
  std::cout << boost::json::serialize(out) << std::endl;
  return s.ok > 0 ? 0 : 1;
}
