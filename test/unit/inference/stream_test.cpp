// Streamed inference through the gateway: SSE relayed event by event with the caller's model in
// every chunk, keep-alive across streamed and whole answers, and a client that hangs up
// stopping the engine's generation.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>

#include "test/unit/inference/stack.hpp"

namespace it = loraplane::inference_test;
namespace json = boost::json;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using loraplane::sim_engine::test::eventually;
using loraplane::sim_engine::test::sse_events;

namespace {

void check_stream(const loraplane::test::HttpResult& r, const std::string& model,
                  const std::string& object) {
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(r.headers.at("content-type").starts_with("text/event-stream"));
  auto events = sse_events(r.body);
  BOOST_TEST_REQUIRE(events.size() >= 3u);
  BOOST_TEST(events.back() == "[DONE]");
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    auto o = it::parse_object(events[i]);
    BOOST_TEST(o["model"].as_string() == model);
    BOOST_TEST(o["object"].as_string() == object);
  }
}

// A chat request from `key` with `body`, as a client on a kept-alive connection writes it.
bhttp::request<bhttp::string_body> chat_request(const std::string& key, std::string body) {
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/chat/completions", 11};
  req.set(bhttp::field::host, "127.0.0.1");
  req.set(bhttp::field::authorization, "Bearer " + key);
  req.set(bhttp::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

// A stack whose engine takes 20 ms per token, with acme's adapter `name` loaded and resident:
// a long answer runs long enough for the client to go away in the middle of it.
struct SlowAdapter {
  it::Stack s;
  it::TenantKey acme;
  explicit SlowAdapter(const std::string& name) : s(slow_options()), acme(s.create_tenant("acme")) {
    auto id = s.add_adapter(acme, name);
    s.load_in_engine(id);
    s.publish_residency({id});
  }
  static loraplane::sim_engine::SimEngineOptions slow_options() {
    auto options = loraplane::sim_engine::test::test_options();
    options.itl = loraplane::sim_engine::Millis(20);
    return options;
  }
};

// A chat body asking `model` for `max_tokens` tokens, all of them (ignore_eos).
std::string long_story(const std::string& model, int max_tokens, bool stream) {
  json::object body{
      {"model", model},
      {"messages", json::array{json::object{{"role", "user"}, {"content", "long story"}}}},
      {"max_tokens", max_tokens},
      {"ignore_eos", true}};
  if (stream) body["stream"] = true;
  return json::serialize(body);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stream)

BOOST_AUTO_TEST_CASE(every_chunk_carries_the_callers_model_and_the_stream_ends_with_done) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto id = s.add_adapter(acme, "streamer");
  s.load_in_engine(id);
  s.publish_residency({id});
  const std::string model = it::kBase + ":streamer";
  auto chat = s.post(acme, "/v1/chat/completions", it::chat_body(model, true));
  check_stream(chat, model, "chat.completion.chunk");
  BOOST_TEST(chat.body.find(id) == std::string::npos);
  auto completion = s.post(acme, "/v1/completions", it::completion_body(model, true));
  check_stream(completion, model, "text_completion");
}

BOOST_AUTO_TEST_CASE(one_connection_serves_streamed_and_whole_answers_in_turn) {
  it::Stack s;
  auto acme = s.create_tenant("acme");
  auto id = s.add_adapter(acme, "ka");
  s.load_in_engine(id);
  s.publish_residency({id});
  const std::string model = it::kBase + ":ka";
  loraplane::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(
      loraplane::tcp::endpoint(loraplane::asio::ip::make_address("127.0.0.1"), s.port()));
  beast::flat_buffer buffer;
  for (bool streamed : {true, false, true}) {
    bhttp::write(stream, chat_request(acme.key, it::chat_body(model, streamed)));
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    BOOST_TEST_REQUIRE(res.result_int() == 200u, res.body());
    BOOST_TEST(res.keep_alive());
    if (streamed) {
      BOOST_TEST(sse_events(res.body()).back() == "[DONE]");
    } else {
      BOOST_TEST(it::parse_object(res.body())["model"].as_string() == model);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_client_hanging_up_stops_the_generation) {
  SlowAdapter slow("slow");
  auto& s = slow.s;
  const auto& acme = slow.acme;
  {
    loraplane::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(
        loraplane::tcp::endpoint(loraplane::asio::ip::make_address("127.0.0.1"), s.port()));
    bhttp::write(stream, chat_request(acme.key, long_story(it::kBase + ":slow", 5000, true)));
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::empty_body> header;
    bhttp::read_header(stream, buffer, header);
    BOOST_TEST_REQUIRE(header.get().result_int() == 200u);
    // The first events arrive while the generation goes on; then the client goes away.
    stream.socket().shutdown(loraplane::tcp::socket::shutdown_both);
    stream.close();
  }
  BOOST_TEST(eventually([&] {
    return loraplane::sim_engine::test::metric_value(s.engine().get("/metrics").body,
                                                     "loraplane_sim_client_disconnects_total") == 1;
  }));
}

BOOST_AUTO_TEST_CASE(a_client_hanging_up_after_pipelining_its_next_request_is_noticed) {
  SlowAdapter slow("piped");
  auto& s = slow.s;
  const auto& acme = slow.acme;
  auto gone = [&] {  // requests the gateway counted as closed by the client (499)
    auto metrics = loraplane::test::http_request(s.port(), "GET", "/metrics").body;
    double sum = 0;
    std::size_t at = 0;
    while ((at = metrics.find("\nloraplane_http_requests_total{", at)) != std::string::npos) {
      auto end = metrics.find('\n', at + 1);
      auto line = metrics.substr(at + 1, end - at - 1);
      if (line.find("code=\"499\"") != std::string::npos &&
          line.find("/v1/chat/completions") != std::string::npos)
        sum += std::stod(line.substr(line.rfind(' ') + 1));
      at = end;
    }
    return sum;
  };
  const double before = gone();
  {
    loraplane::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(
        loraplane::tcp::endpoint(loraplane::asio::ip::make_address("127.0.0.1"), s.port()));
    auto request = [&](int max_tokens) {
      return chat_request(acme.key, long_story(it::kBase + ":piped", max_tokens, false));
    };
    // A whole (not streamed) answer that takes 100 s; while it runs, the client pipelines its
    // next request and then hangs up.
    bhttp::write(stream, request(5000));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    bhttp::write(stream, request(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stream.socket().shutdown(loraplane::tcp::socket::shutdown_both);
    stream.close();
  }
  BOOST_TEST(eventually([&] { return gone() >= before + 1; }));
}

BOOST_AUTO_TEST_SUITE_END()
