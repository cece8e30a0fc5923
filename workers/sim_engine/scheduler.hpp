// Admission of requests into the running batch, as vLLM's scheduler decides it: at most
// max_num_seqs requests run at once and their adapters are at most max_loras distinct ones; the
// rest wait first-come first-served, except that a request whose adapter does not fit is
// skipped for later ones that do (vLLM's V1 scheduler does the same). The waiting queue is
// bounded: beyond max_waiting a request is refused at once.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/asio.hpp"
#include "common/result.hpp"

namespace loraplane::sim_engine {

struct LoraKey {
  std::uint64_t id = 0;
  std::string name;
  std::uint64_t bytes = 0;  // of the weights: what a reload from disk costs
};

class Scheduler {
 public:
  Scheduler(std::size_t max_num_seqs, std::size_t max_loras, std::size_t max_waiting)
      : max_num_seqs_(max_num_seqs), max_loras_(max_loras), max_waiting_(max_waiting) {}
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Waits for a place in the batch. Errors: Errc::limit_exceeded (waiting queue full),
  // Errc::unavailable (engine stopping). On success the caller must release() once.
  awaitable<Status> admit(std::optional<LoraKey> lora);
  void release(const std::optional<LoraKey>& lora);
  // Wakes every waiter with Errc::unavailable and refuses new requests.
  void stop();

  std::size_t running() const { return running_; }
  std::size_t waiting() const { return waiting_.size(); }
  // Adapter names with running, respectively waiting, requests (vllm:lora_requests_info).
  std::vector<std::string> running_adapters() const;
  std::vector<std::string> waiting_adapters() const;
  // Called after every change of the sets above.
  void on_change(std::function<void()> fn) { on_change_ = std::move(fn); }

 private:
  struct Waiter {
    std::optional<LoraKey> lora;
    asio::steady_timer* timer = nullptr;
    bool admitted = false;
  };
  bool fits(const std::optional<LoraKey>& lora) const;
  void start(const std::optional<LoraKey>& lora);
  void admit_waiting();
  void changed() {
    if (on_change_) on_change_();
  }

  std::size_t max_num_seqs_;
  std::size_t max_loras_;
  std::size_t max_waiting_;
  std::size_t running_ = 0;
  std::map<std::uint64_t, std::pair<std::string, std::size_t>> running_loras_;  // id → name, n
  std::list<Waiter*> waiting_;
  bool stopped_ = false;
  std::function<void()> on_change_;
};

}  // namespace loraplane::sim_engine
