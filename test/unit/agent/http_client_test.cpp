// common/http_client: one exchange with bounds, and a download that lands in a file with its
// sha256 — against a local common/http server.
#include "common/http_client.hpp"

#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "common/http.hpp"
#include "common/sha256.hpp"
#include "test/support/process.hpp"

namespace loraplane::agent::test {

namespace {

namespace fs = std::filesystem;

// Longer than two of the download's 1 MiB pieces, so both buffers take turns; no two pieces
// alike, so a piece written out of order or twice shows.
std::string make_blob() {
  std::string out(2'500'000, '\0');
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>('a' + (i / 4096 + i) % 26);
  return out + "tail";
}
const std::string kBlob = make_blob();

awaitable<http::Response> blob(http::RequestContext&) {
  co_return http::text_response(http::Status::ok, kBlob, "application/octet-stream");
}

awaitable<http::Response> missing(http::RequestContext&) {
  co_return http::error_response(http::Status::not_found, "invalid_request_error", "nope",
                                 "not here");
}

// A server on its own io thread; calls run as coroutines on a second io_context.
struct Local {
  asio::io_context io;
  std::unique_ptr<http::Server> server;
  std::thread thread;
  Local() {
    http::Router router;
    router.add(http::Verb::get, "/blob", blob);
    router.add(http::Verb::get, "/missing", missing);
    server = std::make_unique<http::Server>(io, http::ServerOptions{}, std::move(router));
    server->start();
    thread = std::thread([this] { io.run(); });
  }
  ~Local() {
    server->stop();
    io.stop();
    thread.join();
  }
  std::string url(const std::string& target) const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + target;
  }
};

// A server that answers one connection with fixed bytes and closes it: for answers a
// common/http server would not give (chunked bodies, bodies cut short).
struct Canned {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::thread thread;
  explicit Canned(std::string answer) {
    thread = std::thread([this, answer = std::move(answer)] {
      tcp::socket socket(io);
      acceptor.accept(socket);
      std::string request;
      char buf[4096];
      boost::system::error_code ec;
      while (request.find("\r\n\r\n") == std::string::npos && !ec)
        request.append(buf, socket.read_some(asio::buffer(buf), ec));
      asio::write(socket, asio::buffer(answer), ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
    });
  }
  ~Canned() { thread.join(); }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/blob";
  }
};

// `body` in chunked transfer coding, in chunks of `size` bytes.
std::string chunked(const std::string& body, std::size_t size) {
  std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  for (std::size_t at = 0; at < body.size(); at += size) {
    const auto piece = body.substr(at, size);
    std::ostringstream hex;
    hex << std::hex << piece.size();
    out += hex.str() + "\r\n" + piece + "\r\n";
  }
  return out + "0\r\n\r\n";
}

template <class T>
awaitable<void> capture(awaitable<T> work, std::optional<T>* out) {
  out->emplace(co_await std::move(work));
}

template <class T>
T run(awaitable<T> work) {
  asio::io_context io;
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(io, capture(std::move(work), &result),
                 [&error](std::exception_ptr ep) { error = ep; });
  io.run();
  if (error) std::rethrow_exception(error);
  BOOST_REQUIRE(result.has_value());
  return std::move(*result);
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_client)

BOOST_AUTO_TEST_CASE(urls) {
  auto u = http::parse_url("http://127.0.0.1:8000/v1/models");
  BOOST_REQUIRE(u.ok());
  BOOST_TEST(u->host == "127.0.0.1");
  BOOST_TEST(u->port == "8000");
  BOOST_TEST(u->target == "/v1/models");
  auto bare = http::parse_url("http://engine");
  BOOST_REQUIRE(bare.ok());
  BOOST_TEST(bare->port == "80");
  BOOST_TEST(bare->target == "/");
  for (auto bad : {"https://x", "ftp://x", "http://", "http://u@x", "http://x:99999999/"})
    BOOST_TEST(!http::parse_url(bad).ok(), bad);
}

BOOST_AUTO_TEST_CASE(request_is_bounded) {
  Local local;
  auto ok = run(http::request("GET", local.url("/blob")));
  BOOST_REQUIRE(ok.ok());
  BOOST_TEST(ok->status == 200u);
  BOOST_CHECK_MESSAGE(ok->body == kBlob, "the body differs from the blob");
  BOOST_TEST(ok->header("content-type").value_or("") == "application/octet-stream");
  http::ClientOptions small;
  small.max_response_bytes = 1000;
  auto big = run(http::request("GET", local.url("/blob"), {}, {}, small));
  BOOST_REQUIRE(!big.ok());
  BOOST_TEST(big.error().code == Errc::limit_exceeded);
  auto status = run(http::request("GET", local.url("/missing")));
  BOOST_REQUIRE(status.ok());
  BOOST_TEST(status->status == 404u);
}

BOOST_AUTO_TEST_CASE(unreachable_is_unavailable) {
  std::uint16_t port = 0;
  {
    Local gone;
    port = gone.server->port();
  }
  auto res = run(http::request("GET", "http://127.0.0.1:" + std::to_string(port) + "/"));
  BOOST_REQUIRE(!res.ok());
  BOOST_TEST(res.error().code == Errc::unavailable);
}

BOOST_AUTO_TEST_CASE(download_streams_into_a_file_with_its_sha256) {
  Local local;
  loraplane::test::TempDir dir;
  const auto path = dir.path() + "/blob";
  auto got = run(http::download(local.url("/blob"), path));
  BOOST_REQUIRE(got.ok());
  BOOST_TEST(got->status == 200u);
  BOOST_TEST(got->bytes == kBlob.size());
  BOOST_TEST(got->sha256 == sha256_hex(kBlob));
  BOOST_CHECK_MESSAGE(read(path) == kBlob, "the file differs from the blob");  // no 2.5 MB dump

  auto missing_file = dir.path() + "/missing";
  auto not_found = run(http::download(local.url("/missing"), missing_file));
  BOOST_REQUIRE(not_found.ok());
  BOOST_TEST(not_found->status == 404u);
  BOOST_TEST(not_found->error_body.find("not here") != std::string::npos);
  BOOST_TEST(!fs::exists(missing_file));

  http::DownloadOptions limited;
  limited.max_bytes = 1000;
  auto too_big_file = dir.path() + "/too-big";
  auto too_big = run(http::download(local.url("/blob"), too_big_file, limited));
  BOOST_REQUIRE(!too_big.ok());
  BOOST_TEST(too_big.error().code == Errc::limit_exceeded);
  BOOST_TEST(!fs::exists(too_big_file));
}

// Bodies without a Content-Length go through the parser instead of straight into the pieces:
// the same bytes and hash, and the size bound still holds while the body streams.
BOOST_AUTO_TEST_CASE(download_of_a_chunked_body) {
  loraplane::test::TempDir dir;
  const std::string body = kBlob + std::string(300'000, 'y');
  {
    Canned server(chunked(body, 100'000));
    const auto path = dir.path() + "/chunked";
    auto got = run(http::download(server.url(), path));
    BOOST_REQUIRE(got.ok());
    BOOST_TEST(got->bytes == body.size());
    BOOST_TEST(got->sha256 == sha256_hex(body));
    BOOST_CHECK_MESSAGE(read(path) == body, "the file differs from the body");
  }
  {
    Canned server(chunked(body, 100'000));
    http::DownloadOptions limited;
    limited.max_bytes = 500'000;
    const auto path = dir.path() + "/chunked-too-big";
    auto got = run(http::download(server.url(), path, limited));
    BOOST_REQUIRE(!got.ok());
    BOOST_TEST(got.error().code == Errc::limit_exceeded);
    BOOST_TEST(!fs::exists(path));
  }
}

// A server that promises more than it sends (a storage node dying mid-blob) fails the download
// and leaves no file behind, whichever piece the cut falls in.
BOOST_AUTO_TEST_CASE(download_cut_short_fails_and_leaves_nothing) {
  loraplane::test::TempDir dir;
  for (std::size_t sent :
       {std::size_t{0}, std::size_t{1000}, std::size_t{1'500'000}, std::size_t{2'400'000}}) {
    Canned server("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBlob.size()) +
                  "\r\nConnection: close\r\n\r\n" + kBlob.substr(0, sent));
    const auto path = dir.path() + "/cut-" + std::to_string(sent);
    auto got = run(http::download(server.url(), path));
    BOOST_REQUIRE_MESSAGE(!got.ok(), "a body cut after " << sent << " bytes was accepted");
    BOOST_TEST(got.error().code == Errc::unavailable);
    BOOST_TEST(!fs::exists(path));
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::agent::test
