#include "common/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <ctime>

#include "common/asio.hpp"

namespace loraplane {

namespace logging {

namespace {

std::string& process_role() {
  static std::string role = "loraplane";
  return role;
}

thread_local const ThreadScope* innermost = nullptr;

void append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

// Length of the well-formed UTF-8 sequence at in[i], or 0 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence(std::string_view in, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(in[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > in.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

void append_time(const spdlog::details::log_msg& msg, std::string& out) {
  using namespace std::chrono;
  const auto since_epoch = msg.time.time_since_epoch();
  const auto secs = duration_cast<seconds>(since_epoch);
  const auto micros = duration_cast<microseconds>(since_epoch - secs).count();
  const std::time_t t = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 micros);
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const Context context = current();
    std::string& s = line_;
    s.clear();
    s += R"({"ts":")";
    append_time(msg, s);
    s += R"(","level":")";
    const auto level = spdlog::level::to_string_view(msg.level);
    s.append(level.data(), level.size());
    s += R"(","role":")";
    append_json_escaped(context.role, s);
    if (!context.request_id.empty()) {
      s += R"(","request_id":")";
      append_json_escaped(context.request_id, s);
    }
    s += R"(","thread":)";
    s += std::to_string(msg.thread_id);
    s += R"(,"msg":")";
    append_json_escaped(std::string_view(msg.payload.data(), msg.payload.size()), s);
    s += "\"}\n";
    append(dest, s);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }

 private:
  std::string line_;  // reused: a sink formats under its own lock, one line at a time
};

// "%*" in the text pattern: "[rid=<id>] " when the line belongs to a request.
class RequestIdFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const Context context = current();
    if (context.request_id.empty()) return;
    append(dest, "[rid=");
    append(dest, context.request_id);
    append(dest, "] ");
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<RequestIdFlag>();
  }
};

}  // namespace

void set_process_role(std::string role) { process_role() = std::move(role); }

Context current() {
  Context out;
  for (const ThreadScope* scope = innermost; scope; scope = scope->outer_) {
    if (out.role.empty()) out.role = scope->context_.role;
    if (out.request_id.empty()) out.request_id = scope->context_.request_id;
  }
  if (out.role.empty()) out.role = process_role();
  return out;
}

ThreadScope::ThreadScope(Context context) : context_(context), outer_(innermost) {
  innermost = this;
}

ThreadScope::~ThreadScope() { innermost = outer_; }

void append_json_escaped(std::string_view in, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < in.size();) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    if (c >= 0x80) {
      if (const auto n = utf8_sequence(in, i); n > 0) {
        out.append(in.substr(i, n));
        i += n;
      } else {
        out += "\\ufffd";
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

std::unique_ptr<spdlog::formatter> json_formatter() { return std::make_unique<JsonFormatter>(); }

std::unique_ptr<spdlog::formatter> text_formatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<RequestIdFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %*%v");
  return formatter;
}

}  // namespace logging

void init_logging(const std::string& level, bool json) {
  std::shared_ptr<spdlog::logger> logger;
  if (json) {
    logger = spdlog::stderr_logger_mt("loraplane");  // no colour codes inside JSON
    logger->set_formatter(logging::json_formatter());
  } else {
    logger = spdlog::stderr_color_mt("loraplane");
    logger->set_formatter(logging::text_formatter());
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::warn);
}


void LogExceptions::operator()(std::exception_ptr ep) const {
  if (!ep) return;
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    spdlog::error("coroutine {} failed: {}", what, e.what());
  } catch (...) {
    spdlog::error("coroutine {} failed with a non-standard exception", what);
  }
}

}  // namespace loraplane
