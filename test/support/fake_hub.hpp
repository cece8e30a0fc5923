// A Hugging Face Hub stand-in for tests, speaking the parts of its HTTP API that the validate
// worker uses: GET /api/models/{repo}/revision/{rev} (commit + siblings), GET
// /{repo}/resolve/{rev}/{file} with the Hub's error headers (X-Error-Code) and a 302 to a file
// store on another host name ("localhost" vs "127.0.0.1") for weights, and the file store
// itself with Range support. Plain blocking sockets on its own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace loraplane::test {

class FakeHub {
 public:
  struct Repo {
    std::string commit;                         // 40 hex
    std::map<std::string, std::string> files;   // name → bytes
    std::optional<std::string> token;           // private/gated: only this token sees it
    bool gated = false;                         // without the token: 401/403 GatedRepo
    std::vector<std::string> revisions = {"main"};
  };

  FakeHub();
  ~FakeHub();
  void add(const std::string& repo, Repo repo_data);
  std::uint16_t port() const { return port_; }
  std::string endpoint() const;  // http://127.0.0.1:PORT
  // The file store closes the connection after this many body bytes, once.
  void drop_once_after(std::uint64_t bytes) { drop_after_ = bytes; }

  struct Seen {
    std::string method, target, authorization, range;
  };
  std::vector<Seen> requests() const;

 private:
  void serve();
  void handle(int fd);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> drop_after_{-1};
  mutable std::mutex mutex_;
  std::map<std::string, Repo> repos_;
  std::vector<Seen> seen_;
  std::thread thread_;
};

}  // namespace loraplane::test
