// Process-wide logging setup (spdlog) and the context every line carries: the role that wrote it
// (gateway, validate, distribute, agent, storage, sim-engine, or the sub-command) and, when the
// line belongs to a client request, that request's id. With --log-json each line is one JSON
// object {"ts","level","role","request_id"?,"thread","msg"}; in text mode the request id shows
// as "[rid=...]". Secrets (API keys, hf tokens) are never passed to a logger.
//
// Two ways to give a line its context:
//   - logging::info({"agent", request_id}, "...", args...): for code that runs on an io_context
//     among other coroutines; the context is set for this one synchronous call only.
//   - logging::ThreadScope scope{"validate", request_id}: for a synchronous handler on a thread
//     of its own (a Kafka consumer's handler): every line logged inside it, also by helpers that
//     call spdlog directly, gets the context. Never keep one alive across a co_await.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace loraplane {

// level: trace|debug|info|warn|error. json=true writes one JSON object per line.
void init_logging(const std::string& level, bool json);

namespace logging {

// Empty fields inherit from the enclosing scope (an empty role falls back to the thread's, then
// the process's role; an empty request id means no request). Views: the strings must outlive the
// call or scope that uses them.
struct Context {
  std::string_view role;
  std::string_view request_id;
};

// Role of lines logged outside any context: the sub-command ("up", "gateway", "worker", ...).
void set_process_role(std::string role);

// The context in force on this thread, with inherited fields filled in.
Context current();

class ThreadScope {
 public:
  explicit ThreadScope(Context context);
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  friend Context current();
  Context context_;
  const ThreadScope* outer_;
};

// Formatters (exposed for tests): one JSON object, and the text layout.
std::unique_ptr<spdlog::formatter> json_formatter();
std::unique_ptr<spdlog::formatter> text_formatter();
// `in` as the contents of a JSON string (quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced by U+FFFD), appended to `out`.
void append_json_escaped(std::string_view in, std::string& out);

template <typename... Args>
void write(spdlog::level::level_enum level, Context context,
           spdlog::format_string_t<Args...> fmt, Args&&... args) {
  if (!spdlog::should_log(level)) return;
  ThreadScope scope(context);
  spdlog::log(level, fmt, std::forward<Args>(args)...);
}

template <typename... Args>
void debug(Context context, spdlog::format_string_t<Args...> fmt, Args&&... args) {
  write(spdlog::level::debug, context, fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void info(Context context, spdlog::format_string_t<Args...> fmt, Args&&... args) {
  write(spdlog::level::info, context, fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void warn(Context context, spdlog::format_string_t<Args...> fmt, Args&&... args) {
  write(spdlog::level::warn, context, fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void error(Context context, spdlog::format_string_t<Args...> fmt, Args&&... args) {
  write(spdlog::level::err, context, fmt, std::forward<Args>(args)...);
}

}  // namespace logging

}  // namespace loraplane
