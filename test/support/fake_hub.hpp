// A Hugging Face Hub stand-in for tests, speaking the parts of its HTTP API that the validate
// worker uses: GET /api/models/{repo}/revision/{rev} (commit + siblings), GET
// /{repo}/resolve/{rev}/{file} with the Hub's error headers (X-Error-Code) and, for weights, a
// 302 carrying the file's sha256 (X-Linked-Etag) to a file store on another host name
// ("localhost" vs "127.0.0.1"), and the file store itself with Range support. Plain blocking sockets on its own thread.
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
  // The file store sends this many body bytes, once, then goes silent with the connection
  // left open (a half-open connection, a stuck CDN node).
  void stall_once_after(std::uint64_t bytes) { stall_after_ = static_cast<std::int64_t>(bytes); }
  // The file store flips the byte at this offset of the file, once (the Hub's sha256 in
  // X-Linked-Etag then no longer matches what arrives).
  void corrupt_once_at(std::uint64_t offset) { corrupt_at_ = static_cast<std::int64_t>(offset); }
  // The file store's 206 answers carry no Content-Range (a broken proxy or mirror).
  void omit_content_range() { omit_content_range_ = true; }
  // The next `count` requests, whatever they ask, get `status` (429 or 5xx) with this
  // Retry-After (seconds; "" for none).
  void busy_next(int count, int status, std::string retry_after = "");

  struct Seen {
    std::string method, target, authorization, range, host;
  };
  std::vector<Seen> requests() const;

 private:
  void serve();
  bool handle(int fd);  // false: leave the connection open (stalled)

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> drop_after_{-1};
  std::atomic<std::int64_t> stall_after_{-1};
  std::atomic<std::int64_t> corrupt_at_{-1};
  std::atomic<bool> omit_content_range_{false};
  int busy_count_ = 0;  // under mutex_
  int busy_status_ = 503;
  std::string busy_retry_after_;
  std::vector<int> stalled_fds_;  // closed when the hub stops
  mutable std::mutex mutex_;
  std::map<std::string, Repo> repos_;
  std::vector<Seen> seen_;
  std::thread thread_;
};

}  // namespace loraplane::test
