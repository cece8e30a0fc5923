// Test helper: runs `loraplane` (or any program) as a child process, collects its stderr, waits
// for a log line, and kills it (SIGTERM, then SIGKILL) when the test is done.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace loraplane::test {

class Process {
 public:
  Process(std::vector<std::string> argv, std::vector<std::string> extra_env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Waits until a line containing `needle` was written; returns that line.
  std::optional<std::string> wait_for_line(const std::string& needle,
                                           std::chrono::milliseconds timeout);
  std::string output() const;
  // Sends `signo` and waits for the exit; returns the exit code (128+signal when killed).
  int stop(int signo, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  bool running();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::string output_;
  std::optional<int> exit_code_;
};

// The loraplane binary under test: $LORAPLANE_BINARY (set by ctest).
std::string loraplane_binary();
// A fresh directory under $TMPDIR, removed by the returned guard.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Parses the port from a "... http://127.0.0.1:PORT" log line.
std::uint16_t port_from_line(const std::string& line);

}  // namespace loraplane::test
