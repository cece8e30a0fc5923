// Server-Sent Events as vLLM frames them, and the batch seen from outside: lora_requests_info
// during a slow stream, a disconnect freeing the slot, the bounded waiting queue.
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include "test/unit/sim_engine/engine_fixture.hpp"

namespace loraplane::sim_engine::test {

namespace json = boost::json;

namespace {

SimEngineOptions slow_options(double itl_ms) {
  auto o = test_options();
  o.itl = Millis(itl_ms);
  return o;
}

std::string long_stream_body(const std::string& model, int tokens, bool stream = true) {
  return json::serialize(
      json::object{{"model", model},
                   {"messages", json::array{json::object{{"role", "user"}, {"content", "go on"}}}},
                   {"max_tokens", tokens},
                   {"ignore_eos", true},
                   {"stream", stream}});
}

// A chat request as bytes for a raw socket.
std::string chat_request(const std::string& body) {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
         "application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(streaming)

BOOST_AUTO_TEST_CASE(chat_stream_frames_chunks_usage_and_done) {
  EngineFixture e;
  auto whole = json::parse(e.chat("toy-llama", "stream me", 6).body);
  auto res = e.chat("toy-llama", "stream me", 6, true, true);
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  BOOST_TEST(res.headers["content-type"] == "text/event-stream; charset=utf-8");
  auto events = sse_events(res.body);
  // role chunk + 6 tokens + usage chunk + [DONE]
  BOOST_REQUIRE(events.size() == 9u);
  BOOST_TEST(events.back() == "[DONE]");
  auto first = json::parse(events[0]).as_object();
  BOOST_TEST(first.at("object").as_string() == "chat.completion.chunk");
  BOOST_TEST(first.at("choices").at(0).at("delta").at("role").as_string() == "assistant");
  BOOST_TEST(first.at("choices").at(0).at("delta").at("content").as_string() == "");
  std::string text;
  for (std::size_t i = 1; i <= 6; ++i) {
    auto chunk = json::parse(events[i]).as_object();
    BOOST_TEST(chunk.at("id") == first.at("id"));
    BOOST_TEST(chunk.at("object").as_string() == "chat.completion.chunk");
    BOOST_TEST(chunk.at("model").as_string() == "toy-llama");
    auto& choice = chunk.at("choices").at(0).as_object();
    text += choice.at("delta").at("content").as_string();
    BOOST_TEST(choice.at("finish_reason").is_null() == (i < 6));
  }
  BOOST_TEST(json::parse(events[6]).at("choices").at(0).at("finish_reason").as_string() ==
             "length");
  BOOST_TEST(text == whole.at("choices").at(0).at("message").at("content").as_string());
  auto usage_chunk = json::parse(events[7]).as_object();
  BOOST_TEST(usage_chunk.at("choices").as_array().empty());
  BOOST_TEST(usage_chunk.at("usage").at("completion_tokens").as_int64() == 6);
  BOOST_TEST(usage_chunk.at("usage").at("prompt_tokens").as_int64() == 2);
  BOOST_TEST(usage_chunk.at("usage").at("total_tokens").as_int64() == 8);

  auto plain = sse_events(e.chat("toy-llama", "stream me", 6, true, false).body);
  BOOST_TEST(plain.size() == 8u);  // no usage chunk
  BOOST_TEST(plain.back() == "[DONE]");
}

BOOST_AUTO_TEST_CASE(completion_stream_frames) {
  EngineFixture e;
  auto res =
      e.post_json("/v1/completions", {{"prompt", "a b"}, {"max_tokens", 3}, {"stream", true}});
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  auto events = sse_events(res.body);
  BOOST_REQUIRE(events.size() == 4u);
  for (std::size_t i = 0; i < 3; ++i) {
    auto chunk = json::parse(events[i]).as_object();
    BOOST_TEST(chunk.at("object").as_string() == "text_completion");
    BOOST_TEST(!chunk.at("choices").at(0).at("text").as_string().empty());
  }
  BOOST_TEST(events[3] == "[DONE]");
}

// Clients and the gateway's upstream pool reuse connections: a finished stream, like a plain
// answer, leaves the connection ready for the next request.
BOOST_AUTO_TEST_CASE(a_connection_serves_a_stream_then_a_plain_request) {
  EngineFixture e;
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), e.port()));
  asio::streambuf received;
  asio::write(socket, asio::buffer(chat_request(long_stream_body("toy-llama", 3))));
  asio::read_until(socket, received, "data: [DONE]\n\n\r\n0\r\n\r\n");
  std::string stream_reply(asio::buffers_begin(received.data()),
                           asio::buffers_end(received.data()));
  received.consume(received.size());
  BOOST_TEST(stream_reply.find("Connection: close") == std::string::npos);
  auto plain = json::serialize(json::object{
      {"model", "toy-llama"},
      {"messages", json::array{json::object{{"role", "user"}, {"content", "again"}}}},
      {"max_tokens", 2}});
  asio::write(socket, asio::buffer(chat_request(plain)));
  asio::read_until(socket, received, "\r\n\r\n");
  std::string head(asio::buffers_begin(received.data()), asio::buffers_end(received.data()));
  BOOST_TEST(head.rfind("HTTP/1.1 200", 0) == 0);
  BOOST_TEST(metric_value(e.get("/metrics").body, "loraplane_sim_client_disconnects_total") == 0);
}

BOOST_AUTO_TEST_CASE(lora_requests_info_shows_the_running_adapter) {
  EngineFixture e(slow_options(20));
  e.load("sql");
  auto idle = latest_lora_info(e.get("/metrics").body);
  BOOST_TEST(idle.labels["running_lora_adapters"] == "");
  BOOST_TEST(idle.labels["max_lora"] == "8");
  std::thread client([&] { e.post("/v1/chat/completions", long_stream_body("sql", 100)); });
  bool seen = eventually([&] {
    auto text = e.get("/metrics").body;
    return latest_lora_info(text).labels["running_lora_adapters"] == "sql" &&
           metric_value(text, "vllm:num_requests_running") == 1;
  });
  client.join();
  BOOST_TEST(seen);
  BOOST_TEST(eventually([&] {
    auto text = e.get("/metrics").body;
    return latest_lora_info(text).labels["running_lora_adapters"] == "" &&
           metric_value(text, "vllm:num_requests_running") == 0;
  }));
}

BOOST_AUTO_TEST_CASE(client_disconnect_mid_stream_frees_the_slot) {
  auto options = slow_options(20);
  options.max_num_seqs = 1;
  EngineFixture e(options);
  {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), e.port()));
    // 40 s if nobody stopped it
    asio::write(socket, asio::buffer(chat_request(long_stream_body("toy-llama", 2000))));
    asio::streambuf received;
    asio::read_until(socket, received, "data: ");
    BOOST_TEST(metric_value(e.get("/metrics").body, "vllm:num_requests_running") == 1);
  }  // socket closed mid-stream
  BOOST_TEST(eventually(
      [&] { return metric_value(e.get("/metrics").body, "vllm:num_requests_running") == 0; }));
  // the one batch place is free again
  auto res = e.chat("toy-llama", "next", 2);
  BOOST_TEST(res.status == 200);
  BOOST_TEST(metric_value(e.get("/metrics").body, "loraplane_sim_client_disconnects_total") == 1);
}

// As vLLM does: a client that hangs up on a non-streamed request aborts its generation, so the
// engine's batch place and queue depth are not held for an answer nobody reads.
BOOST_AUTO_TEST_CASE(client_disconnect_before_a_whole_answer_frees_the_slot) {
  auto options = slow_options(20);
  options.max_num_seqs = 1;
  EngineFixture e(options);
  {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), e.port()));
    // 40 s if nobody stopped it
    asio::write(socket,
                asio::buffer(chat_request(long_stream_body("toy-llama", 2000, /*stream=*/false))));
    BOOST_TEST_REQUIRE(eventually(
        [&] { return metric_value(e.get("/metrics").body, "vllm:num_requests_running") == 1; }));
  }  // socket closed before the answer
  BOOST_TEST(eventually(
      [&] { return metric_value(e.get("/metrics").body, "vllm:num_requests_running") == 0; }));
  auto res = e.chat("toy-llama", "next", 2);
  BOOST_TEST(res.status == 200);
  BOOST_TEST(metric_value(e.get("/metrics").body, "loraplane_sim_client_disconnects_total") == 1);
}

BOOST_AUTO_TEST_CASE(max_loras_limits_the_adapters_in_the_batch) {
  auto options = slow_options(20);
  options.max_loras = 1;
  EngineFixture e(options);
  e.load("a");
  e.load("b");
  std::thread first([&] { e.post("/v1/chat/completions", long_stream_body("a", 50)); });
  BOOST_REQUIRE(eventually([&] {
    return latest_lora_info(e.get("/metrics").body).labels["running_lora_adapters"] == "a";
  }));
  HttpResult base_result, b_result;
  std::thread second([&] { b_result = e.chat("b", "wait your turn", 2); });
  // "b" cannot join a batch that already holds max_loras = 1 adapter; the base model can.
  bool b_waited = eventually([&] {
    auto info = latest_lora_info(e.get("/metrics").body);
    return info.labels["waiting_lora_adapters"] == "b" &&
           info.labels["running_lora_adapters"] == "a";
  });
  base_result = e.chat("toy-llama", "no adapter", 2);
  first.join();
  second.join();
  BOOST_TEST(b_waited);
  BOOST_TEST(base_result.status == 200);
  BOOST_TEST(b_result.status == 200);
}

BOOST_AUTO_TEST_CASE(full_waiting_queue_is_503_with_retry_after) {
  auto options = slow_options(20);
  options.max_num_seqs = 1;
  options.max_waiting = 1;
  EngineFixture e(options);
  std::thread running([&] { e.post("/v1/chat/completions", long_stream_body("toy-llama", 60)); });
  BOOST_REQUIRE(eventually(
      [&] { return metric_value(e.get("/metrics").body, "vllm:num_requests_running") == 1; }));
  HttpResult queued_result;
  std::thread queued([&] { queued_result = e.chat("toy-llama", "queued", 2); });
  BOOST_REQUIRE(eventually(
      [&] { return metric_value(e.get("/metrics").body, "vllm:num_requests_waiting") == 1; }));
  auto refused = e.chat("toy-llama", "refused", 2);
  running.join();
  queued.join();
  BOOST_TEST(refused.status == 503);
  BOOST_TEST(refused.headers["retry-after"] == "1");
  BOOST_TEST(queued_result.status == 200);
  BOOST_TEST(metric_value(e.get("/metrics").body, "loraplane_sim_requests_rejected_total") == 1);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace loraplane::sim_engine::test
