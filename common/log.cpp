#include "common/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "common/asio.hpp"

namespace loraplane {

void init_logging(const std::string& level, bool json) {
  auto logger = spdlog::stderr_color_mt("loraplane");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  if (json) {
    spdlog::set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","thread":%t,"msg":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v");
  }
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
