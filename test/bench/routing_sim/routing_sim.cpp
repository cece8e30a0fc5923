// Routing simulation: the real router (gateway/router, loraplane_router) on a simulated clock,
// beside round-robin, least-loaded, GIE-style LoRA affinity and the offline lower bound (Belady
// MIN on the pooled slots), on one generated S-LoRA-style trace per configuration. Also printed,
// as references: LRU on the pooled slots (vLLM's own eviction rule with a perfect placement) and
// fewest recent requests on the pooled slots (our agents' rule with a perfect placement).
//
// Model (everything in simulated seconds):
//  - E engines, each a single compute server (`service` s per request) with `slots` GPU LoRA
//    slots. The engine's agent loads adapters one at a time (`load` s each) beside the compute:
//    a request routed to an engine where its adapter is neither resident nor loading starts a
//    load at once (the router's ensure), which takes a free slot, else the least recently used
//    slot without waiting requests (vLLM's own rule, for every baseline). For our router the
//    agent takes instead the first adapter of the decision's evict_order that is loaded and has
//    no waiting requests, as the real agent does (`--agent-lru`: ignore it). Every load counts
//    as a miss. The engine runs the oldest of
//    its first 64 waiting requests whose adapter is loaded (S-LoRA-style scheduling); a waiting
//    request whose adapter was evicted meanwhile has it loaded again (another miss).
//  - Queueing delay = arrival → start of compute (waiting for the engine and for its adapter).
//  - The agent side for our router: after every residency change (load start: `loading`, load
//    end: `gpu`, eviction) and every `heartbeat` s the engine's residency record (gpu, loading,
//    free_slots, queue_depth, heartbeat_at_ms) is fed to Router::update at that simulated
//    time; begin_request/end_request track the requests in flight as the gateway does.
//  - Workload: Zipf(s) popularity over N adapters, Gamma inter-arrival times (cv), rate =
//    utilisation × E / service, and popularity drift: `drifts` times over the trace the ranks of
//    a fraction of the adapters are re-shuffled among themselves.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <numeric>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/router/router.hpp"

namespace router = loraplane::gateway::router;

namespace {

struct Params {
  int requests = 30000;
  int slots = 8;
  double service = 0.05;
  double load = 0.3;
  double utilisation = 0.7;
  double heartbeat = 1.0;
  int drifts = 10;
  double drift_fraction = 0.2;
  int gie_threshold = 8;
  int max_replicas = 0;  // 0: the router's default
  int spill_depth = 0;   // 0: the router's default
  double evict_half_life = 0;  // s; 0: the router's default
  bool agent_lru = false;  // our agents ignore the router's evict_order (LRU as the baselines)
  std::uint64_t seed = 42;
  std::vector<int> adapters = {100, 1000, 5000};
  std::vector<double> zipf = {0.8, 1.0, 1.2};
  std::vector<double> cvs = {1.0, 4.0};
  std::vector<int> engines = {8, 64};
};

struct Request {
  double arrival = 0;
  int adapter = 0;
};

// ---- workload ------------------------------------------------------------------------------

std::vector<Request> make_trace(const Params& p, int n_adapters, double s, double cv,
                                int n_engines, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> cdf(static_cast<std::size_t>(n_adapters));
  double sum = 0;
  for (int r = 0; r < n_adapters; ++r) {
    sum += 1.0 / std::pow(r + 1.0, s);
    cdf[static_cast<std::size_t>(r)] = sum;
  }
  for (auto& c : cdf) c /= sum;
  std::vector<int> rank_to_adapter(static_cast<std::size_t>(n_adapters));
  std::iota(rank_to_adapter.begin(), rank_to_adapter.end(), 0);
  std::shuffle(rank_to_adapter.begin(), rank_to_adapter.end(), rng);

  const double rate = p.utilisation * n_engines / p.service;
  const double shape = 1.0 / (cv * cv);
  std::gamma_distribution<double> gap(shape, 1.0 / (rate * shape));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const int drift_every = p.drifts > 0 ? std::max(1, p.requests / (p.drifts + 1)) : 0;

  std::vector<Request> trace;
  trace.reserve(static_cast<std::size_t>(p.requests));
  double t = 0;
  for (int i = 0; i < p.requests; ++i) {
    if (drift_every > 0 && i > 0 && i % drift_every == 0) {
      // Re-shuffle the ranks of a random fraction of the adapters among themselves.
      std::vector<std::size_t> ranks(static_cast<std::size_t>(n_adapters));
      std::iota(ranks.begin(), ranks.end(), 0);
      std::shuffle(ranks.begin(), ranks.end(), rng);
      ranks.resize(std::max<std::size_t>(
          2, static_cast<std::size_t>(p.drift_fraction * n_adapters)));
      std::vector<int> moved;
      for (auto r : ranks) moved.push_back(rank_to_adapter[r]);
      std::shuffle(moved.begin(), moved.end(), rng);
      for (std::size_t k = 0; k < ranks.size(); ++k) rank_to_adapter[ranks[k]] = moved[k];
    }
    t += gap(rng);
    auto rank = static_cast<std::size_t>(std::lower_bound(cdf.begin(), cdf.end(), unit(rng)) -
                                         cdf.begin());
    rank = std::min(rank, cdf.size() - 1);
    trace.push_back({t, rank_to_adapter[rank]});
  }
  return trace;
}

// Belady MIN on one cache of `capacity` slots: the fewest loads any placement could need.
long belady_loads(const std::vector<Request>& trace, std::size_t capacity) {
  const std::size_t n = trace.size();
  std::vector<std::size_t> next(n);
  std::unordered_map<int, std::size_t> seen;
  for (std::size_t i = n; i-- > 0;) {
    auto it = seen.find(trace[i].adapter);
    next[i] = it == seen.end() ? n + 1 : it->second;
    seen[trace[i].adapter] = i;
  }
  std::unordered_map<int, std::size_t> cached;  // adapter → its next use
  std::set<std::pair<std::size_t, int>> by_next;  // (next use, adapter), farthest last
  long loads = 0;
  for (std::size_t i = 0; i < n; ++i) {
    int a = trace[i].adapter;
    auto it = cached.find(a);
    if (it != cached.end()) {
      by_next.erase({it->second, a});
    } else {
      ++loads;
      if (cached.size() == capacity) {
        auto victim = std::prev(by_next.end());
        cached.erase(victim->second);
        by_next.erase(victim);
      }
    }
    cached[a] = next[i];
    by_next.insert({next[i], a});
  }
  return loads;
}

// LRU on one cache of `capacity` slots, in arrival order: vLLM's own eviction rule (the
// baselines' agents) with a perfect placement (pooled, no queueing, no replicas). A reference
// beside the bound: a router only picks engines, each engine evicts its own adapters.
long lru_loads(const std::vector<Request>& trace, std::size_t capacity) {
  std::list<int> order;  // most recent first
  std::unordered_map<int, std::list<int>::iterator> where;
  long loads = 0;
  for (const auto& r : trace) {
    auto it = where.find(r.adapter);
    if (it != where.end()) {
      order.splice(order.begin(), order, it->second);
      continue;
    }
    ++loads;
    if (where.size() == capacity) {
      where.erase(order.back());
      order.pop_back();
    }
    order.push_front(r.adapter);
    where[r.adapter] = order.begin();
  }
  return loads;
}

// Fewest recent requests on one cache of `capacity` slots, in arrival order: the rule our
// agents follow through the router's evict_order (a count of requests decayed with
// `half_life` s, kept for every adapter), with a perfect placement. A reference like LRU's.
long recent_count_loads(const std::vector<Request>& trace, std::size_t capacity,
                        double half_life) {
  // A count c at time t is kept as log2(c) + t / half_life: decay needs no update and the
  // order of two adapters' counts is the order of these scores.
  std::unordered_map<int, double> score;      // every adapter seen
  std::set<std::pair<double, int>> cached;    // (score, adapter), lowest first
  long loads = 0;
  for (const auto& r : trace) {
    const double now = r.arrival / half_life;
    auto [it, fresh] = score.try_emplace(r.adapter, now);
    const double before = it->second;
    if (!fresh) {
      const double hi = std::max(before, now), lo = std::min(before, now);
      it->second = hi + std::log2(1.0 + std::exp2(lo - hi));
    }
    if (!fresh && cached.erase({before, r.adapter}) > 0) {
      cached.insert({it->second, r.adapter});
      continue;
    }
    ++loads;
    if (cached.size() == capacity) cached.erase(cached.begin());
    cached.insert({it->second, r.adapter});
  }
  return loads;
}

// ---- engines -------------------------------------------------------------------------------

enum class Policy { ours, round_robin, least_loaded, gie };
const char* name(Policy p) {
  switch (p) {
    case Policy::ours:
      return "loraplane router";
    case Policy::round_robin:
      return "round-robin";
    case Policy::least_loaded:
      return "least-loaded";
    case Policy::gie:
      return "GIE LoRA affinity";
  }
  return "?";
}

struct Slot {
  int adapter = -1;
  double last_use = 0;
  double ready_at = 0;  // the load completes then
};

struct Engine {
  std::string id;
  std::vector<Slot> slots;
  std::deque<int> queue;                   // waiting request indices, oldest first
  std::unordered_map<int, int> queued;     // adapter → waiting requests
  bool busy = false;
  double loader_free = 0;                  // the agent loads one adapter at a time
  long served = 0;
  double busy_time = 0;

  int depth() const { return static_cast<int>(queue.size()) + (busy ? 1 : 0); }
  Slot* find(int adapter) {
    for (auto& s : slots)
      if (s.adapter == adapter) return &s;
    return nullptr;
  }
};

struct Result {
  long loads = 0;
  double p50 = 0, p99 = 0, mean_wait = 0;
  double balance = 0;
  double busy = 0;  // mean engine compute busy fraction over the trace's span
};

enum class EventType { done, load_done, heartbeat };
constexpr std::size_t kWindow = 64;  // waiting requests an engine's scheduler looks at
struct Event {
  double t;
  std::uint64_t seq;
  EventType type;
  int engine;
  bool operator>(const Event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
};

constexpr std::int64_t kEpochMs = 1'800'000'000'000;
const std::string kBase = "sim-base";

router::RouterOptions options(const Params& p) {
  router::RouterOptions o;
  if (p.max_replicas > 0) o.max_replicas = static_cast<std::size_t>(p.max_replicas);
  if (p.spill_depth > 0) o.spill_queue_depth = p.spill_depth;
  if (p.evict_half_life > 0)
    o.evict_half_life_ms = static_cast<std::int64_t>(p.evict_half_life * 1000.0);
  return o;
}

class Sim {
 public:
  Sim(const Params& p, const std::vector<Request>& trace, int n_engines, int n_adapters,
      Policy policy)
      : p_(p), trace_(trace), policy_(policy), waits_(trace.size(), 0.0), r_(options(p)) {
    for (int a = 0; a < n_adapters; ++a) names_.push_back("adp_" + std::to_string(a));
    for (int e = 0; e < n_engines; ++e) {
      Engine eng;
      char buf[16];
      std::snprintf(buf, sizeof buf, "e%03d", e);
      eng.id = buf;
      eng.slots.resize(static_cast<std::size_t>(p.slots));
      index_[eng.id] = e;
      engines_.push_back(std::move(eng));
    }
  }

  Result run() {
    if (policy_ == Policy::ours) {
      for (int e = 0; e < static_cast<int>(engines_.size()); ++e) {
        publish(e, 0.0);
        push(p_.heartbeat, EventType::heartbeat, e);
      }
    }
    std::size_t next = 0;
    double now = 0;
    while (next < trace_.size() || !events_.empty()) {
      bool arrival = next < trace_.size() &&
                     (events_.empty() || trace_[next].arrival <= events_.top().t);
      if (arrival) {
        now = trace_[next].arrival;
        dispatch(static_cast<int>(next), now);
        ++next;
        continue;
      }
      Event ev = events_.top();
      events_.pop();
      now = ev.t;
      auto& eng = engines_[static_cast<std::size_t>(ev.engine)];
      switch (ev.type) {
        case EventType::heartbeat:
          if (next < trace_.size() || outstanding_ > 0) {
            publish(ev.engine, now);
            push(now + p_.heartbeat, EventType::heartbeat, ev.engine);
          }
          break;
        case EventType::load_done:
          if (policy_ == Policy::ours) publish(ev.engine, now);
          try_start(ev.engine, now);
          break;
        case EventType::done:
          if (policy_ == Policy::ours) r_.end_request(eng.id);
          eng.busy = false;
          --outstanding_;
          try_start(ev.engine, now);
          break;
      }
    }
    Result res;
    res.loads = loads_;
    std::vector<double> w = waits_;
    std::sort(w.begin(), w.end());
    res.p50 = w[w.size() / 2];
    res.p99 = w[std::min(w.size() - 1, static_cast<std::size_t>(0.99 * w.size()))];
    res.mean_wait = std::accumulate(w.begin(), w.end(), 0.0) / static_cast<double>(w.size());
    long max_served = 0, total = 0;
    double busy = 0;
    for (auto& e : engines_) {
      max_served = std::max(max_served, e.served);
      total += e.served;
      busy += e.busy_time;
    }
    res.balance = static_cast<double>(max_served) * static_cast<double>(engines_.size()) /
                  static_cast<double>(total);
    res.busy = busy / (static_cast<double>(engines_.size()) * trace_.back().arrival);
    return res;
  }

 private:
  void push(double t, EventType type, int engine) {
    events_.push({t, seq_++, type, engine});
  }
  static std::int64_t ms(double t) { return kEpochMs + std::llround(t * 1000.0); }

  // The agent's residency record for engine e at time t.
  void publish(int e, double t) {
    const auto& eng = engines_[static_cast<std::size_t>(e)];
    loraplane::schema::Residency res;
    res.engine_id = eng.id;
    res.base_model = kBase;
    res.url = "http://sim/" + eng.id;
    res.agent_url = "http://sim-agent/" + eng.id;
    int used = 0;
    for (const auto& s : eng.slots) {
      if (s.adapter < 0) continue;
      ++used;
      (s.ready_at > t ? res.loading : res.gpu).push_back(names_[static_cast<std::size_t>(s.adapter)]);
    }
    res.free_slots = p_.slots - used;
    res.queue_depth = eng.depth();
    res.heartbeat_at_ms = ms(t);
    r_.update(std::move(res), ms(t));
  }

  int least_loaded() const {
    int best = 0;
    for (int e = 1; e < static_cast<int>(engines_.size()); ++e)
      if (engines_[static_cast<std::size_t>(e)].depth() <
          engines_[static_cast<std::size_t>(best)].depth())
        best = e;
    return best;
  }

  int choose(int adapter, double now) {
    switch (policy_) {
      case Policy::round_robin:
        return static_cast<int>(rr_++ % engines_.size());
      case Policy::least_loaded:
        return least_loaded();
      case Policy::gie: {
        // Engines with the adapter active (resident, as seen now) and active+waiting under the
        // threshold: the least loaded of them; otherwise the least loaded of all.
        int best = -1;
        for (int e = 0; e < static_cast<int>(engines_.size()); ++e) {
          auto& eng = engines_[static_cast<std::size_t>(e)];
          if (eng.find(adapter) == nullptr || eng.depth() >= p_.gie_threshold) continue;
          if (best < 0 || eng.depth() < engines_[static_cast<std::size_t>(best)].depth())
            best = e;
        }
        return best >= 0 ? best : least_loaded();
      }
      case Policy::ours: {
        auto d = r_.route(kBase, names_[static_cast<std::size_t>(adapter)], ms(now));
        if (d.outcome == router::Outcome::no_engine) {
          std::fprintf(stderr, "router found no engine at t=%.3f\n", now);
          std::exit(1);
        }
        evict_order_.clear();
        if (!p_.agent_lru)
          for (const auto& id : d.evict_order) evict_order_.push_back(index_of_name(id));
        return index_.at(d.engine_id);
      }
    }
    return 0;
  }

  void dispatch(int req, double now) {
    const int adapter = trace_[static_cast<std::size_t>(req)].adapter;
    int e = choose(adapter, now);
    auto& eng = engines_[static_cast<std::size_t>(e)];
    if (policy_ == Policy::ours) r_.begin_request(eng.id);
    // The agent's ensure: load at once if the adapter is neither on the GPU nor loading.
    if (eng.find(adapter) == nullptr) load(e, ensure_victim(eng, now), adapter, now);
    eng.queue.push_back(req);
    ++eng.queued[adapter];
    ++outstanding_;
    try_start(e, now);
  }

  static int index_of_name(const std::string& name) { return std::stoi(name.substr(4)); }

  // The slot an ensure's load takes: a free one, else (our router) the first adapter of the
  // decision's evict_order that is loaded without waiting requests, else victim() below.
  Slot* ensure_victim(Engine& eng, double now) {
    for (auto& s : eng.slots)
      if (s.adapter < 0) return &s;
    for (int adapter : evict_order_) {
      Slot* s = eng.find(adapter);
      if (s == nullptr || s->ready_at > now) continue;
      auto q = eng.queued.find(adapter);
      if (q == eng.queued.end() || q->second == 0) return s;
    }
    return victim(eng, now, true);
  }

  // The slot a load takes: a free one, else the least recently used one without waiting
  // requests, else the least recently used loaded one, else (all loading) the oldest load.
  Slot* victim(Engine& eng, double now, bool allow_loading) {
    Slot* best = nullptr;
    int best_rank = 4;
    for (auto& s : eng.slots) {
      int rank = 3;
      if (s.adapter < 0) {
        rank = 0;
      } else if (s.ready_at <= now) {
        auto q = eng.queued.find(s.adapter);
        rank = q == eng.queued.end() || q->second == 0 ? 1 : 2;
      }
      if (rank < best_rank || (rank == best_rank && s.last_use < best->last_use)) {
        best = &s;
        best_rank = rank;
      }
    }
    return best_rank == 3 && !allow_loading ? nullptr : best;
  }

  // A miss: the agent loads the adapter into `slot` after the loads already queued.
  void load(int e, Slot* slot, int adapter, double now) {
    auto& eng = engines_[static_cast<std::size_t>(e)];
    ++loads_;
    const double start = std::max(now, eng.loader_free);
    eng.loader_free = start + p_.load;
    slot->adapter = adapter;
    slot->last_use = now;
    slot->ready_at = eng.loader_free;
    if (policy_ == Policy::ours) publish(e, now);
    push(slot->ready_at, EventType::load_done, e);
  }

  // An idle engine starts the oldest of its first kWindow waiting requests whose adapter is
  // loaded; if there is none, waiting requests whose adapter was evicted meanwhile get it loaded
  // again (into slots that are not loading).
  void try_start(int e, double now) {
    auto& eng = engines_[static_cast<std::size_t>(e)];
    if (eng.busy || eng.queue.empty()) return;
    const std::size_t window = std::min(kWindow, eng.queue.size());
    for (std::size_t i = 0; i < window; ++i) {
      const auto req = static_cast<std::size_t>(eng.queue[i]);
      const int adapter = trace_[req].adapter;
      Slot* s = eng.find(adapter);
      if (s == nullptr || s->ready_at > now) continue;
      eng.queue.erase(eng.queue.begin() + static_cast<std::ptrdiff_t>(i));
      --eng.queued[adapter];
      s->last_use = now;
      eng.busy = true;
      waits_[req] = now - trace_[req].arrival;
      ++eng.served;
      eng.busy_time += p_.service;
      push(now + p_.service, EventType::done, e);
      return;
    }
    for (std::size_t i = 0; i < window; ++i) {
      const int adapter = trace_[static_cast<std::size_t>(eng.queue[i])].adapter;
      if (eng.find(adapter) != nullptr) continue;
      Slot* slot = victim(eng, now, false);
      if (slot == nullptr) return;
      load(e, slot, adapter, now);
    }
  }

  const Params& p_;
  const std::vector<Request>& trace_;
  Policy policy_;
  std::vector<double> waits_;
  std::vector<std::string> names_;
  std::vector<Engine> engines_;
  std::unordered_map<std::string, int> index_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::uint64_t seq_ = 0;
  std::size_t rr_ = 0;
  std::vector<int> evict_order_;  // of the last decision of our router
  long loads_ = 0;
  long outstanding_ = 0;  // dispatched, not done
  router::Router r_;
};

template <typename T>
std::vector<T> parse_list(const char* s) {
  std::vector<T> out;
  std::string str(s);
  std::size_t pos = 0;
  while (pos <= str.size()) {
    auto comma = str.find(',', pos);
    if (comma == std::string::npos) comma = str.size();
    out.push_back(static_cast<T>(std::stod(str.substr(pos, comma - pos))));
    pos = comma + 1;
  }
  return out;
}

void usage() {
  std::puts(
      "routing_sim [--quick] [--requests N] [--adapters 100,1000,5000] [--zipf 0.8,1.0,1.2]\n"
      "            [--cv 1,4] [--engines 8,64] [--slots 8] [--service 0.05] [--load 0.3]\n"
      "            [--utilisation 0.7] [--heartbeat 1.0] [--drifts 10] [--drift-fraction 0.2]\n"
      "            [--gie-threshold 8] [--max-replicas N] [--spill-depth N]\n"
      "            [--evict-half-life S (router options)]\n"
      "            [--agent-lru (our agents ignore the router's evict_order)]\n"
      "            [--seed 42]");
}

}  // namespace

int main(int argc, char** argv) {
  Params p;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--quick") {
      p.requests = 4000;
      p.adapters = {100, 1000};
      p.zipf = {1.0};
      p.cvs = {1.0, 4.0};
      p.engines = {8};
    } else if (a == "--requests") {
      p.requests = std::atoi(value());
    } else if (a == "--adapters") {
      p.adapters = parse_list<int>(value());
    } else if (a == "--zipf") {
      p.zipf = parse_list<double>(value());
    } else if (a == "--cv") {
      p.cvs = parse_list<double>(value());
    } else if (a == "--engines") {
      p.engines = parse_list<int>(value());
    } else if (a == "--slots") {
      p.slots = std::atoi(value());
    } else if (a == "--service") {
      p.service = std::atof(value());
    } else if (a == "--load") {
      p.load = std::atof(value());
    } else if (a == "--utilisation") {
      p.utilisation = std::atof(value());
    } else if (a == "--heartbeat") {
      p.heartbeat = std::atof(value());
    } else if (a == "--drifts") {
      p.drifts = std::atoi(value());
    } else if (a == "--drift-fraction") {
      p.drift_fraction = std::atof(value());
    } else if (a == "--gie-threshold") {
      p.gie_threshold = std::atoi(value());
    } else if (a == "--max-replicas") {
      p.max_replicas = std::atoi(value());
    } else if (a == "--spill-depth") {
      p.spill_depth = std::atoi(value());
    } else if (a == "--evict-half-life") {
      p.evict_half_life = std::atof(value());
    } else if (a == "--agent-lru") {
      p.agent_lru = true;
    } else if (a == "--seed") {
      p.seed = std::strtoull(value(), nullptr, 10);
    } else {
      usage();
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (p.requests < 100) {
    std::fputs("--requests must be at least 100\n", stderr);
    return 2;
  }

  const auto started = std::chrono::steady_clock::now();
  std::printf(
      "%d requests per configuration; %d slots per engine, service %.3f s, load %.3f s, "
      "offered load %.0f%% of compute; drift: %d times, %.0f%% of adapters re-ranked; "
      "GIE threshold %d; our agents evict %s; seed %llu\n\n",
      p.requests, p.slots, p.service, p.load, 100 * p.utilisation, p.drifts,
      100 * p.drift_fraction, p.gie_threshold,
      p.agent_lru ? "their least recently used adapter (--agent-lru)"
                  : "in the router's evict_order",
      static_cast<unsigned long long>(p.seed));
  std::puts(
      "| engines | adapters | zipf s | cv | policy | loads | miss rate | × bound | p50 wait s | "
      "p99 wait s | balance max/mean | busy |");
  std::puts("|---|---|---|---|---|---|---|---|---|---|---|---|");

  struct Summary {
    int engines, adapters;
    double s, cv;
    double vs_bound, vs_gie, p99_ours, p99_gie;
  };
  std::vector<Summary> summary;
  std::uint64_t config = 0;
  for (int n_engines : p.engines)
    for (int n_adapters : p.adapters)
      for (double s : p.zipf)
        for (double cv : p.cvs) {
          auto trace = make_trace(p, n_adapters, s, cv, n_engines, p.seed + 7919 * ++config);
          long bound = belady_loads(
              trace, static_cast<std::size_t>(n_engines) * static_cast<std::size_t>(p.slots));
          const double n = static_cast<double>(trace.size());
          std::printf("| %d | %d | %.1f | %.0f | Belady MIN (pooled, offline) | %ld | %.4f | 1.00 "
                      "| | | | |\n",
                      n_engines, n_adapters, s, cv, bound, static_cast<double>(bound) / n);
          const long lru = lru_loads(
              trace, static_cast<std::size_t>(n_engines) * static_cast<std::size_t>(p.slots));
          std::printf("| %d | %d | %.1f | %.0f | LRU (pooled, offline, reference) | %ld | %.4f | "
                      "%.2f | | | | |\n",
                      n_engines, n_adapters, s, cv, lru, static_cast<double>(lru) / n,
                      static_cast<double>(lru) / static_cast<double>(bound));
          const long recent = recent_count_loads(
              trace, static_cast<std::size_t>(n_engines) * static_cast<std::size_t>(p.slots),
              static_cast<double>(options(p).evict_half_life_ms) / 1000.0);
          std::printf("| %d | %d | %.1f | %.0f | fewest recent requests (pooled, offline, "
                      "reference) | %ld | %.4f | %.2f | | | | |\n",
                      n_engines, n_adapters, s, cv, recent, static_cast<double>(recent) / n,
                      static_cast<double>(recent) / static_cast<double>(bound));
          Result ours{}, gie{};
          for (Policy policy :
               {Policy::ours, Policy::gie, Policy::least_loaded, Policy::round_robin}) {
            Sim sim(p, trace, n_engines, n_adapters, policy);
            Result r = sim.run();
            if (policy == Policy::ours) ours = r;
            if (policy == Policy::gie) gie = r;
            std::printf("| %d | %d | %.1f | %.0f | %s | %ld | %.4f | %.2f | %.3f | %.3f | %.2f | "
                        "%.2f |\n",
                        n_engines, n_adapters, s, cv, name(policy), r.loads,
                        static_cast<double>(r.loads) / n,
                        bound > 0 ? static_cast<double>(r.loads) / static_cast<double>(bound) : 0,
                        r.p50, r.p99, r.balance, r.busy);
          }
          std::fflush(stdout);
          summary.push_back({n_engines, n_adapters, s, cv,
                             static_cast<double>(ours.loads) / static_cast<double>(bound),
                             gie.loads > 0 ? static_cast<double>(ours.loads) /
                                                 static_cast<double>(gie.loads)
                                           : 0,
                             ours.p99, gie.p99});
        }

  std::puts(
      "\nTargets for the loraplane router: loads ≤ 1.25× the bound, ≤ 0.5× GIE affinity, p99 ≤ "
      "GIE's.\n");
  std::puts("| engines | adapters | zipf s | cv | loads ÷ bound | loads ÷ GIE | p99 ours s | p99 GIE "
            "s | met |");
  std::puts("|---|---|---|---|---|---|---|---|---|");
  int met = 0;
  for (const auto& x : summary) {
    bool ok = x.vs_bound <= 1.25 && x.vs_gie <= 0.5 && x.p99_ours <= x.p99_gie;
    met += ok ? 1 : 0;
    std::printf("| %d | %d | %.1f | %.0f | %.2f%s | %.2f%s | %.3f | %.3f%s | %s |\n", x.engines,
                x.adapters, x.s, x.cv, x.vs_bound, x.vs_bound <= 1.25 ? "" : " ✗", x.vs_gie,
                x.vs_gie <= 0.5 ? "" : " ✗", x.p99_ours, x.p99_gie,
                x.p99_ours <= x.p99_gie ? "" : " ✗", ok ? "yes" : "no");
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("\nAll targets met in %d of %zu configurations. Wall time %.1f s.\n", met,
              summary.size(), secs);
  return 0;
}
