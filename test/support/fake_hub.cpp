#include "test/support/fake_hub.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "common/sha256.hpp"

namespace loraplane::test {

namespace {

void send_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    auto n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

std::string answer(int status, const std::string& reason,
                   const std::vector<std::pair<std::string, std::string>>& headers,
                   const std::string& body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  return out + body;
}

std::string error(int status, const std::string& code, const std::string& message) {
  return answer(status, "Error", {{"X-Error-Code", code}, {"X-Error-Message", message},
                                  {"Content-Type", "application/json"}},
                "{\"error\":\"" + message + "\"}");
}

}  // namespace

FakeHub::FakeHub() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0)
    throw std::runtime_error("fake hub: cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

FakeHub::~FakeHub() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  thread_.join();
  ::close(listen_fd_);
  for (int fd : stalled_fds_) ::close(fd);
}

void FakeHub::busy_next(int count, int status, std::string retry_after) {
  std::lock_guard lock(mutex_);
  busy_count_ = count;
  busy_status_ = status;
  busy_retry_after_ = std::move(retry_after);
}

std::string FakeHub::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FakeHub::add(const std::string& repo, Repo repo_data) {
  std::lock_guard lock(mutex_);
  repos_[repo] = std::move(repo_data);
}

std::vector<FakeHub::Seen> FakeHub::requests() const {
  std::lock_guard lock(mutex_);
  return seen_;
}

void FakeHub::serve() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    // One at a time: the worker downloads sequentially.
    if (handle(fd)) ::close(fd);
    else stalled_fds_.push_back(fd);
  }
}

bool FakeHub::handle(int fd) {
  std::string request;
  char buf[4096];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
    request.append(buf, static_cast<std::size_t>(n));
  }
  Seen seen;
  const auto line_end = request.find("\r\n");
  const std::string line = request.substr(0, line_end);
  seen.method = line.substr(0, line.find(' '));
  seen.target = line.substr(line.find(' ') + 1, line.rfind(' ') - line.find(' ') - 1);
  for (std::size_t pos = line_end + 2; pos < request.size();) {
    auto end = request.find("\r\n", pos);
    if (end == std::string::npos || end == pos) break;
    std::string h = request.substr(pos, end - pos);
    auto colon = h.find(':');
    std::string name = h.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string value = colon == std::string::npos ? "" : h.substr(colon + 2);
    if (name == "authorization") seen.authorization = value;
    if (name == "range") seen.range = value;
    if (name == "host") seen.host = value;
    pos = end + 2;
  }
  std::unique_lock lock(mutex_);
  seen_.push_back(seen);
  if (busy_count_ > 0) {
    --busy_count_;
    std::vector<std::pair<std::string, std::string>> headers;
    if (!busy_retry_after_.empty()) headers.emplace_back("Retry-After", busy_retry_after_);
    send_all(fd, answer(busy_status_, "Busy", headers, "{\"error\":\"busy\"}"));
    return true;
  }
  const std::string target = seen.target;
  const std::string token =
      seen.authorization.starts_with("Bearer ") ? seen.authorization.substr(7) : std::string();

  // The file store: /cdn/{repo with '/' as '~'}/{file}
  if (target.starts_with("/cdn/")) {
    std::string rest = target.substr(5, target.find('?') - 5);
    auto slash = rest.find('/');
    std::string repo = rest.substr(0, slash);
    std::replace(repo.begin(), repo.end(), '~', '/');
    std::string file = rest.substr(slash + 1);
    auto it = repos_.find(repo);
    if (it == repos_.end() || !it->second.files.contains(file)) {
      send_all(fd, answer(404, "Not Found", {}, "no such object"));
      return true;
    }
    const std::string& bytes = it->second.files.at(file);
    std::uint64_t from = 0;
    if (seen.range.starts_with("bytes=")) from = std::stoull(seen.range.substr(6));
    const std::int64_t drop = drop_after_.exchange(-1);
    const std::int64_t stall = stall_after_.exchange(-1);
    const std::int64_t corrupt = corrupt_at_.exchange(-1);
    lock.unlock();
    std::string body = bytes.substr(std::min<std::uint64_t>(from, bytes.size()));
    if (corrupt >= 0 && static_cast<std::uint64_t>(corrupt) >= from &&
        static_cast<std::uint64_t>(corrupt) < bytes.size())
      body[static_cast<std::size_t>(static_cast<std::uint64_t>(corrupt) - from)] ^= 0x01;
    std::string head = "HTTP/1.1 200 OK\r\n";
    if (from > 0) {
      head = "HTTP/1.1 206 Partial Content\r\n";
      if (!omit_content_range_)
        head += "Content-Range: bytes " + std::to_string(from) + "-" +
                std::to_string(bytes.size() - 1) + "/" + std::to_string(bytes.size()) + "\r\n";
    }
    head += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    if (drop >= 0 && static_cast<std::uint64_t>(drop) < body.size()) body.resize(static_cast<std::size_t>(drop));
    if (stall >= 0 && static_cast<std::uint64_t>(stall) < body.size()) {
      send_all(fd, head + body.substr(0, static_cast<std::size_t>(stall)));
      return false;
    }
    send_all(fd, head + body);
    return true;
  }

  // /api/models/{ns}/{name}/revision/{rev}
  if (target.starts_with("/api/models/")) {
    std::string rest = target.substr(12);
    auto rev_pos = rest.find("/revision/");
    std::string repo = rest.substr(0, rev_pos);
    std::string rev = rev_pos == std::string::npos ? "main" : rest.substr(rev_pos + 10);
    auto it = repos_.find(repo);
    if (it == repos_.end() || (it->second.token && !it->second.gated && token != *it->second.token)) {
      send_all(fd, token.empty() ? error(401, "RepoNotFound", "Repository not found")
                                 : error(404, "RepoNotFound", "Repository not found"));
      return true;
    }
    const auto& r = it->second;
    if (std::find(r.revisions.begin(), r.revisions.end(), rev) == r.revisions.end() && rev != r.commit) {
      send_all(fd, error(404, "RevisionNotFound", "Invalid rev id: " + rev));
      return true;
    }
    std::string siblings;
    for (const auto& [name, bytes] : r.files)
      siblings += std::string(siblings.empty() ? "" : ",") + "{\"rfilename\":\"" + name + "\"}";
    send_all(fd, answer(200, "OK", {{"Content-Type", "application/json"}},
                        "{\"id\":\"" + repo + "\",\"sha\":\"" + r.commit + "\",\"siblings\":[" +
                            siblings + "]}"));
    return true;
  }

  // /{ns}/{name}/resolve/{rev}/{file}
  auto resolve = target.find("/resolve/");
  if (resolve != std::string::npos) {
    std::string repo = target.substr(1, resolve - 1);
    std::string rest = target.substr(resolve + 9);
    std::string rev = rest.substr(0, rest.find('/'));
    std::string file = rest.substr(rest.find('/') + 1);
    auto it = repos_.find(repo);
    if (it == repos_.end()) {
      send_all(fd, error(401, "RepoNotFound", "Repository not found"));
      return true;
    }
    const auto& r = it->second;
    if (r.token && token != *r.token) {
      if (r.gated)
        send_all(fd, token.empty() ? error(401, "GatedRepo", "Cannot access gated repo. You must be authenticated.")
                                   : error(403, "GatedRepo", "Access to this gated repo is not in the authorized list."));
      else
        send_all(fd, token.empty() ? error(401, "RepoNotFound", "Repository not found")
                                   : error(404, "RepoNotFound", "Repository not found"));
      return true;
    }
    if (rev != r.commit) {
      send_all(fd, error(404, "RevisionNotFound", "Invalid rev id: " + rev));
      return true;
    }
    if (!r.files.contains(file)) {
      send_all(fd, error(404, "EntryNotFound", file + " does not exist"));
      return true;
    }
    if (file.ends_with(".json")) {
      send_all(fd, answer(200, "OK", {{"X-Repo-Commit", r.commit}}, r.files.at(file)));
      return true;
    }
    std::string store_repo = repo;
    std::replace(store_repo.begin(), store_repo.end(), '/', '~');
    // Another host name for the same server: a client must not send the token there.
    Sha256 sha;
    sha.update(r.files.at(file));
    send_all(fd, answer(302, "Found",
                        {{"Location", "http://localhost:" + std::to_string(port_) + "/cdn/" +
                                          store_repo + "/" + file + "?sig=abc"},
                         {"X-Repo-Commit", r.commit},
                         {"X-Linked-Etag", "\"" + sha.finish_hex() + "\""}},
                        ""));
    return true;
  }
  send_all(fd, answer(404, "Not Found", {}, ""));
  return true;
}

}  // namespace loraplane::test
