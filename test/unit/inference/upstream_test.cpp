// The engine connection pool: keep-alive connections are reused, an unreachable peer is
// Errc::unavailable (the retry-elsewhere signal), bodies are read whole or piece by piece.
#include "gateway/inference/upstream.hpp"

#include <boost/test/unit_test.hpp>

#include "common/http.hpp"

namespace inf = loraplane::gateway::inference;
namespace http = loraplane::http;
using loraplane::awaitable;
namespace asio = loraplane::asio;

namespace {

awaitable<http::Response> answer(std::vector<unsigned>* ports, http::RequestContext& rc) {
  ports->push_back(rc.channel->stream.socket().remote_endpoint().port());
  co_return http::json_response(http::Status::ok,
                                R"({"model":"x","echo":)" + rc.request.body() + "}");
}

struct Outcome {
  std::vector<unsigned> statuses;
  std::vector<std::string> bodies;
  std::vector<loraplane::Errc> errors;
};

awaitable<void> calls(inf::UpstreamPool& pool, inf::UpstreamUrl url, int n, Outcome* out) {
  for (int i = 0; i < n; ++i) {
    inf::UpstreamCall::Request req;
    req.target = "/answer";
    req.body = std::to_string(i);
    auto call = co_await inf::UpstreamCall::start(pool, url, std::move(req));
    if (!call) {
      out->errors.push_back(call.error().code);
      continue;
    }
    auto body = co_await (*call)->read_all(1024);
    out->statuses.push_back((*call)->status());
    out->bodies.push_back(body ? *body : std::string("error"));
  }
}

Outcome run(inf::UpstreamPool& pool, const std::string& url, int n, asio::io_context& io) {
  Outcome out;
  auto parsed = inf::parse_upstream_url(url);
  BOOST_REQUIRE(parsed.ok());
  asio::co_spawn(io, calls(pool, *parsed, n, &out), [&io](std::exception_ptr) { io.stop(); });
  io.restart();
  io.run();
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(upstream)

BOOST_AUTO_TEST_CASE(keep_alive_connections_are_reused) {
  asio::io_context io;
  std::vector<unsigned> ports;
  http::Router routes;
  routes.add(http::Verb::post, "/answer",
             [&ports](http::RequestContext& rc) { return answer(&ports, rc); });
  http::Server server(io, http::ServerOptions{}, std::move(routes));
  server.start();
  inf::UpstreamPool pool;
  auto out = run(pool, "http://127.0.0.1:" + std::to_string(server.port()), 3, io);
  BOOST_TEST(out.errors.empty());
  BOOST_TEST(out.statuses == std::vector<unsigned>({200, 200, 200}));
  BOOST_TEST(out.bodies.at(2) == R"({"model":"x","echo":2})");
  BOOST_TEST_REQUIRE(ports.size() == 3u);
  BOOST_TEST(ports[0] == ports[1]);  // one connection served all three
  BOOST_TEST(ports[1] == ports[2]);
  BOOST_TEST(pool.idle_count() == 1u);
  server.stop();
}

BOOST_AUTO_TEST_CASE(an_unreachable_peer_is_unavailable) {
  asio::io_context io;
  inf::UpstreamPool pool;
  auto out = run(pool, "http://127.0.0.1:1", 1, io);
  BOOST_TEST_REQUIRE(out.errors.size() == 1u);
  BOOST_TEST((out.errors[0] == loraplane::Errc::unavailable));
}

BOOST_AUTO_TEST_CASE(urls_are_parsed) {
  auto u = inf::parse_upstream_url("http://127.0.0.1:8000/prefix/");
  BOOST_TEST_REQUIRE(u.ok());
  BOOST_TEST(u->host == "127.0.0.1");
  BOOST_TEST(u->port == "8000");
  BOOST_TEST(u->path == "/prefix");
  BOOST_TEST(inf::parse_upstream_url("http://[::1]:80")->host == "::1");
  BOOST_TEST(!inf::parse_upstream_url("https://x:1").ok());
  BOOST_TEST(!inf::parse_upstream_url("http://nohost").ok());
}

BOOST_AUTO_TEST_SUITE_END()
