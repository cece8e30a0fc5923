#include "cmd/import/run.hpp"

#include <boost/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <mutex>
#include <thread>
#include <vector>

#include "cmd/import/manifest.hpp"
#include "cmd/import/upload.hpp"
#include "common/http_call.hpp"
#include "schema/json.hpp"

namespace loraplane::cmd::import {

namespace {

using Clock = std::chrono::steady_clock;

struct Outcome {
  std::string status = "failed";  // ready | failed | skipped
  std::string id, sha256, error;
  std::uint64_t size = 0;
  double seconds = 0;
};

// What holds a (base, name) among the caller's adapters.
struct Existing {
  schema::Adapter adapter;          // a live one (not failed) if any, else the newest failed
  std::vector<std::string> failed;  // every failed adapter of that name: each holds the name
};

struct Shared {
  Shared(http::Endpoint endpoint, std::string api_key, const Options& opts)
      : api(std::move(endpoint)), key(std::move(api_key)), options(opts) {}
  http::Endpoint api;
  std::string key;
  const Options& options;
  std::map<std::pair<std::string, std::string>, Existing> existing;  // (base, name)
  // sent_bytes counts each file once; a worker's upload under way is in its attempt_bytes
  // slot until answered, and dropped from it when refused 429/503 and sent again.
  std::atomic<std::uint64_t> total_bytes{0}, sent_bytes{0};
  std::vector<std::atomic<std::uint64_t>> attempt_bytes;
  std::atomic<std::size_t> ready{0}, failed{0}, skipped{0}, next{0};
  std::mutex print_mutex;
  bool tty = false;
};

std::map<std::string, std::string> auth(const Shared& s) {
  return {{"authorization", "Bearer " + s.key}};
}

std::string error_message(const std::string& body, int status) {
  auto parsed = schema::parse<schema::ErrorBody>(body);
  if (parsed) return std::to_string(status) + " " + parsed->code.value_or("") + ": " + parsed->message;
  return std::to_string(status) + ": " + body.substr(0, 200);
}

// Every adapter of the caller, page by page.
Status list_existing(Shared& s) {
  std::string after;
  for (int pages = 0; pages < 10'000; ++pages) {
    std::string target = "/v1/adapters?limit=100" + (after.empty() ? "" : "&after=" + after);
    auto r = http::call(s.api, "GET", target, {}, auth(s));
    if (!r) return r.error();
    if (r->status != 200) return make_error(Errc::invalid_argument, error_message(r->body, r->status));
    auto list = schema::parse<schema::AdapterList>(r->body);
    if (!list) return list.error();
    for (auto& a : list->data) {
      after = a.id;
      auto& held = s.existing[{a.base_model, a.name}];
      // Newest first. Uploads of one name racing each other all get their 202 and the
      // validate worker fails the losers (adapter_exists), which may be newer than the winner:
      // as at the gateway (AdapterDirectory::find_named), a live adapter wins over failed ones.
      const bool failed = a.status == schema::AdapterStatus::failed;
      if (failed) held.failed.push_back(a.id);
      const bool held_failed = held.adapter.status == schema::AdapterStatus::failed;
      if (held.adapter.id.empty() || (!failed && held_failed)) held.adapter = std::move(a);
    }
    if (!list->has_more || list->data.empty()) return {};
  }
  return {};
}

// A poll answer a restarting gateway (503 while it loads its state), a shedding one (429) or a
// load balancer in front of one that is away (502, 504) gives: worth asking again, within the
// same bound as a refused connection.
bool transient(int status) { return status == 429 || status >= 500; }

// How long to wait before the next poll: the gateway's Retry-After within reason, else 300 ms.
std::chrono::milliseconds poll_pause(const http::CallResult* answer) {
  constexpr std::chrono::milliseconds kDefault{300}, kMost{5'000};
  if (!answer) return kDefault;
  auto it = answer->headers.find("retry-after");
  if (it == answer->headers.end()) return kDefault;
  const int seconds = std::atoi(it->second.c_str());  // an HTTP date reads as 0
  if (seconds <= 0) return kDefault;
  return std::min(std::chrono::milliseconds(std::chrono::seconds(seconds)), kMost);
}

// The adapter's settled state into `out`; false while it is still on its way.
bool settled(const schema::Adapter& a, Outcome& out) {
  out.sha256 = a.sha256;
  if (a.size_bytes) out.size = a.size_bytes;
  switch (a.status) {
    case schema::AdapterStatus::ready:
      out.status = "ready";
      return true;
    case schema::AdapterStatus::failed:
      out.error = a.error ? a.error->code + ": " + a.error->message : "failed";
      return true;
    case schema::AdapterStatus::deleting:
      out.error = "the adapter is being deleted (by another client?)";
      return true;
    default:
      return false;
  }
}

// Polls the adapter until it is ready or failed, or the timeout. A gateway that cannot be
// reached or answers only 429/5xx for --unreachable-timeout ends the wait; any other answer
// but 200 (404: the adapter is gone, 401: the key was revoked) ends it at once.
void wait_settled(Shared& s, const std::string& id, Outcome& out, Clock::time_point deadline) {
  std::optional<Clock::time_point> unavailable_since;
  while (Clock::now() < deadline) {
    auto r = http::call(s.api, "GET", "/v1/adapters/" + id, {}, auth(s));
    if (r && r->status == 200) {
      unavailable_since.reset();
      auto a = schema::parse<schema::Adapter>(r->body);
      if (a && settled(*a, out)) return;
    } else if (r && !transient(r->status)) {
      out.error = error_message(r->body, r->status);
      if (r->status == 404) out.error += " (the adapter was deleted while the import waited)";
      return;
    } else {
      // Stopped, restarting, overloaded, or behind a proxy that lost it: say so in bounded
      // time rather than poll until the per-adapter timeout.
      if (!unavailable_since) unavailable_since = Clock::now();
      if (Clock::now() - *unavailable_since >= s.options.unreachable_timeout) {
        out.error = "gateway unreachable for " +
                    std::to_string(s.options.unreachable_timeout.count()) +
                    " s while waiting for the adapter to be ready (" +
                    (r ? error_message(r->body, r->status) : r.error().message) +
                    "); run the import again to resume";
        return;
      }
    }
    std::this_thread::sleep_for(poll_pause(r ? &*r : nullptr));
  }
  out.error = "not ready within " + std::to_string(s.options.timeout.count()) + " s";
}

// Sends the entry (upload or import), retrying on 429/503 as the gateway asks. Returns the id.
std::optional<std::string> send(Shared& s, const Entry& e, Outcome& out,
                                std::atomic<std::uint64_t>& attempt_bytes) {
  for (int attempt = 0; attempt < 6; ++attempt) {
    int status = 0;
    std::string body, retry_after;
    if (e.file) {
      attempt_bytes = 0;
      auto r = upload_file(s.api, s.key, e, attempt_bytes);
      const std::uint64_t sent = attempt_bytes.exchange(0);
      if (!r || (r->status != 429 && r->status != 503)) s.sent_bytes += sent;
      if (!r) {
        out.error = r.error().message;
        return std::nullopt;
      }
      status = r->status, body = r->body, retry_after = r->retry_after;
    } else {
      schema::CreateAdapterRequest req{e.name, e.base_model, *e.repo, e.revision, e.hf_token};
      auto r = http::call(s.api, "POST", "/v1/adapters", schema::to_json(req), auth(s));
      if (!r) {
        out.error = r.error().message;
        return std::nullopt;
      }
      status = r->status, body = r->body;
      if (auto it = r->headers.find("retry-after"); it != r->headers.end()) retry_after = it->second;
    }
    if (status == 202 || status == 200 || status == 201) {
      auto a = schema::parse<schema::Adapter>(body);
      if (!a) {
        out.error = "unexpected answer: " + a.error().message;
        return std::nullopt;
      }
      return a->id;
    }
    if (status != 429 && status != 503) {
      out.error = error_message(body, status);
      return std::nullopt;
    }
    int seconds = std::clamp(std::atoi(retry_after.c_str()), 1, 30);
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
  }
  out.error = "the gateway kept answering 429/503";
  return std::nullopt;
}

Outcome import_one(Shared& s, const Entry& e, std::atomic<std::uint64_t>& attempt_bytes) {
  Outcome out;
  const auto start = Clock::now();
  std::string local_sha;
  if (e.file) {
    auto sha = file_sha256(*e.file);
    if (!sha) {
      out.error = sha.error().message;
      return out;
    }
    local_sha = *sha;
    std::error_code ec;
    out.size = std::filesystem::file_size(*e.file, ec);
  }
  if (auto it = s.existing.find({e.base_model, e.name}); it != s.existing.end()) {
    const auto& a = it->second.adapter;
    const bool same = e.file ? a.sha256 == local_sha
                             : a.source.repo == e.repo && a.source.revision.value_or("main") == e.revision;
    if (same && a.status == schema::AdapterStatus::ready) {
      out = {"skipped", a.id, a.sha256, "", a.size_bytes, 0};
      s.sent_bytes += out.size;
      return out;
    }
    if (same && (a.status == schema::AdapterStatus::pending ||
                 a.status == schema::AdapterStatus::validating)) {
      out.id = a.id;
      s.sent_bytes += out.size;
      wait_settled(s, a.id, out, start + s.options.timeout);
      out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      return out;
    }
    if (a.status != schema::AdapterStatus::failed) {
      out.id = a.id;
      out.error = "the name is taken by a different adapter (" + a.id + ", " +
                  std::string(schema::to_string(a.status)) + "); delete it or rename the entry";
      return out;
    }
    // Failed earlier attempts hold the name: remove them and try again.
    for (const auto& failed_id : it->second.failed) {
      auto r = http::call(s.api, "DELETE", "/v1/adapters/" + failed_id, {}, auth(s));
      if (!r || (r->status != 200 && r->status != 404)) {
        out.error = "cannot delete the failed earlier attempt " + failed_id + ": " +
                    (r ? error_message(r->body, r->status) : r.error().message);
        return out;
      }
    }
  }
  auto id = send(s, e, out, attempt_bytes);
  if (!id) return out;
  out.id = *id;
  if (s.options.wait) wait_settled(s, *id, out, start + s.options.timeout);
  else out.status = "ready";
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) bytes /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
  return buf;
}

void draw_progress(Shared& s, std::size_t total, Clock::time_point start) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::uint64_t going = 0;
  for (const auto& b : s.attempt_bytes) going += b.load();
  const double sent = static_cast<double>(s.sent_bytes.load() + going);
  const double all = static_cast<double>(s.total_bytes.load());
  const double rate = elapsed > 0 ? sent / elapsed : 0;
  const std::size_t finished = s.ready + s.failed + s.skipped;
  const double fraction = all > 0 ? sent / all : static_cast<double>(finished) / static_cast<double>(total);
  constexpr int kWidth = 24;
  std::string bar(kWidth, ' ');
  for (int i = 0; i < static_cast<int>(fraction * kWidth) && i < kWidth; ++i) bar[i] = '=';
  std::string eta = "--";
  if (rate > 0 && all > sent) eta = std::to_string(static_cast<int>((all - sent) / rate)) + "s";
  std::lock_guard lock(s.print_mutex);
  std::fprintf(stderr, "\r\033[K[%s] %zu/%zu done, %zu failed, %zu skipped | %s / %s | %s/s | ETA %s",
               bar.c_str(), finished, total, s.failed.load(), s.skipped.load(),
               human_bytes(sent).c_str(), human_bytes(all).c_str(), human_bytes(rate).c_str(),
               eta.c_str());
  std::fflush(stderr);
}

void print_summary(const std::vector<Entry>& entries, const std::vector<Outcome>& outcomes,
                   const Shared& s, double seconds) {
  if (s.options.json) {
    boost::json::array items;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& o = outcomes[i];
      boost::json::object item{{"name", entries[i].name}, {"base_model", entries[i].base_model},
                               {"status", o.status}, {"id", o.id}, {"sha256", o.sha256},
                               {"size_bytes", o.size}, {"seconds", o.seconds}};
      if (!o.error.empty()) item["error"] = o.error;
      items.push_back(std::move(item));
    }
    boost::json::object doc{{"adapters", std::move(items)}, {"ready", s.ready.load()},
                            {"failed", s.failed.load()}, {"skipped", s.skipped.load()},
                            {"bytes", s.sent_bytes.load()}, {"seconds", seconds}};
    std::printf("%s\n", boost::json::serialize(doc).c_str());
    return;
  }
  std::printf("%-32s %-24s %-8s %-26s %10s %8s  %s\n", "NAME", "BASE", "STATUS", "ID", "SIZE",
              "SECONDS", "ERROR");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& o = outcomes[i];
    std::printf("%-32s %-24s %-8s %-26s %10s %8.1f  %s\n", entries[i].name.c_str(),
                entries[i].base_model.c_str(), o.status.c_str(), o.id.c_str(),
                human_bytes(static_cast<double>(o.size)).c_str(), o.seconds, o.error.c_str());
  }
  std::printf("%zu ready, %zu failed, %zu skipped; %s in %.1f s\n", s.ready.load(), s.failed.load(),
              s.skipped.load(), human_bytes(static_cast<double>(s.sent_bytes.load())).c_str(),
              seconds);
}

}  // namespace

int run(const Options& options) {
  auto entries = read_manifest(options.manifest);
  if (!entries) {
    std::fprintf(stderr, "loraplane import: %s\n", entries.error().message.c_str());
    return 2;
  }
  auto api = http::parse_http_url(options.api);
  if (!api) {
    std::fprintf(stderr, "loraplane import: --api: %s\n", api.error().message.c_str());
    return 2;
  }
  Shared s(*api, options.key, options);
  if (s.key.empty()) {
    if (const char* env = std::getenv("LORAPLANE_API_KEY")) s.key = env;
  }
  if (s.key.empty()) {
    std::fprintf(stderr, "loraplane import: no API key: pass --key or set LORAPLANE_API_KEY\n");
    return 2;
  }
  if (auto st = list_existing(s); !st) {
    std::fprintf(stderr, "loraplane import: listing your adapters: %s\n", st.error().message.c_str());
    return 2;
  }
  for (const auto& e : *entries) {
    if (!e.file) continue;
    std::error_code ec;
    s.total_bytes += std::filesystem::file_size(*e.file, ec);
  }
  s.tty = !options.json && ::isatty(STDERR_FILENO) == 1;
  const std::size_t total = entries->size();
  std::vector<Outcome> outcomes(total);
  const auto start = Clock::now();

  const int n = std::clamp(options.concurrency, 1, 64);
  s.attempt_bytes = std::vector<std::atomic<std::uint64_t>>(static_cast<std::size_t>(n));
  auto worker = [&](std::size_t slot) {
    for (;;) {
      const std::size_t i = s.next++;
      if (i >= total) return;
      auto o = import_one(s, (*entries)[i], s.attempt_bytes[slot]);
      (o.status == "ready" ? s.ready : o.status == "skipped" ? s.skipped : s.failed)++;
      outcomes[i] = o;
      if (!s.tty && !options.json) {
        std::lock_guard lock(s.print_mutex);
        const std::size_t finished = s.ready + s.failed + s.skipped;
        std::fprintf(stderr, "[%zu/%zu] %s %s:%s %s %s%s%s\n", finished, total, o.status.c_str(),
                     (*entries)[i].base_model.c_str(), (*entries)[i].name.c_str(), o.id.c_str(),
                     human_bytes(static_cast<double>(o.size)).c_str(), o.error.empty() ? "" : " ",
                     o.error.c_str());
      }
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t i = 0; i < s.attempt_bytes.size(); ++i) workers.emplace_back(worker, i);
  std::mutex done_mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::thread display;
  if (s.tty) {
    display = std::thread([&] {
      std::unique_lock lock(done_mutex);
      while (!done_cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return done; })) {
        lock.unlock();
        draw_progress(s, total, start);
        lock.lock();
      }
    });
  }
  for (auto& w : workers) w.join();
  if (display.joinable()) {
    {
      std::lock_guard lock(done_mutex);
      done = true;
    }
    done_cv.notify_all();
    display.join();
    draw_progress(s, total, start);
    std::fprintf(stderr, "\n");
  }
  print_summary(*entries, outcomes, s, std::chrono::duration<double>(Clock::now() - start).count());
  return s.failed > 0 ? 1 : 0;
}

}  // namespace loraplane::cmd::import
