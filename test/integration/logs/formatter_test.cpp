// The JSON log formatter on its own: whatever a message holds (quotes, newlines, control bytes,
// broken UTF-8), each line is one valid JSON object with the context of its scope.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

#include "common/log.hpp"

namespace json = boost::json;
namespace logging = loraplane::logging;

namespace {

std::string format_json(std::string_view payload, spdlog::level::level_enum level) {
  spdlog::details::log_msg msg("test", level, payload);
  spdlog::memory_buf_t buf;
  logging::json_formatter()->format(msg, buf);
  return std::string(buf.data(), buf.size());
}

json::object parse_line(const std::string& line) {
  BOOST_TEST_REQUIRE(!line.empty());
  BOOST_TEST(line.back() == '\n');
  BOOST_TEST(line.find('\n') == line.size() - 1, "one line: " << line);
  boost::system::error_code ec;
  auto value = json::parse(line, ec);
  BOOST_TEST_REQUIRE(!ec, "not JSON: " << line);
  BOOST_TEST_REQUIRE(value.is_object());
  return value.as_object();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(formatter)

BOOST_AUTO_TEST_CASE(awkward_messages_stay_one_valid_json_line) {
  const std::string payload =
      "adapter \"my-v1\" failed:\nline 2\\path\ttab \x01\x1f\x7f caf\xc3\xa9 bad \xff\xc3 end";
  auto o = parse_line(format_json(payload, spdlog::level::warn));
  BOOST_TEST(o["msg"].as_string() ==
             "adapter \"my-v1\" failed:\nline 2\\path\ttab \x01\x1f\x7f caf\xc3\xa9 bad "
             "\xef\xbf\xbd\xef\xbf\xbd end");
  BOOST_TEST(o["level"].as_string() == "warning");
  const std::string ts(o["ts"].as_string());
  BOOST_TEST(ts.size() == std::string("2026-11-27T11:29:54.123456Z").size(), ts);
  BOOST_TEST(ts.back() == 'Z');
  BOOST_TEST(ts[10] == 'T');
  BOOST_TEST(o.contains("role"));
  BOOST_TEST(!o.contains("request_id"));  // outside any request
}

BOOST_AUTO_TEST_CASE(scopes_give_role_and_request_id_and_end_with_the_scope) {
  {
    logging::ThreadScope scope({"validate", "req-\"42\""});
    auto o = parse_line(format_json("job started", spdlog::level::info));
    BOOST_TEST(o["role"].as_string() == "validate");
    BOOST_TEST(o["request_id"].as_string() == "req-\"42\"");
    {
      // An inner scope with only a role keeps the outer request id.
      logging::ThreadScope inner({"distribute", {}});
      auto n = parse_line(format_json("nested", spdlog::level::info));
      BOOST_TEST(n["role"].as_string() == "distribute");
      BOOST_TEST(n["request_id"].as_string() == "req-\"42\"");
    }
    BOOST_TEST(logging::current().role == "validate");
  }
  BOOST_TEST(logging::current().request_id.empty());
  auto o = parse_line(format_json("after", spdlog::level::info));
  BOOST_TEST(!o.contains("request_id"));
}

BOOST_AUTO_TEST_CASE(log_with_context_reaches_the_default_logger) {
  std::ostringstream json_out, text_out;
  auto json_sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(json_out);
  json_sink->set_formatter(logging::json_formatter());
  auto text_sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_out);
  text_sink->set_formatter(logging::text_formatter());
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>(
      "formatter-test", spdlog::sinks_init_list{json_sink, text_sink});
  spdlog::set_default_logger(logger);
  logging::info({"agent", "rid-7"}, "loaded {} in {:.1f} s", "adp_x", 1.5);
  spdlog::info("plain line");
  spdlog::set_default_logger(previous);

  std::istringstream lines(json_out.str());
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  auto a = parse_line(first + "\n");
  BOOST_TEST(a["role"].as_string() == "agent");
  BOOST_TEST(a["request_id"].as_string() == "rid-7");
  BOOST_TEST(a["msg"].as_string() == "loaded adp_x in 1.5 s");
  auto b = parse_line(second + "\n");
  BOOST_TEST(!b.contains("request_id"));  // the context ended with the call
  BOOST_TEST(b["msg"].as_string() == "plain line");

  std::istringstream text(text_out.str());
  std::getline(text, first);
  std::getline(text, second);
  BOOST_TEST(first.find("[rid=rid-7] loaded adp_x") != std::string::npos, first);
  BOOST_TEST(second.find("] plain line") != std::string::npos, second);
  BOOST_TEST(second.find("[rid=") == std::string::npos, second);
}

BOOST_AUTO_TEST_SUITE_END()
