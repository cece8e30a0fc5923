// Chaos on a real broker of the test's own: concurrent uploads and Hub imports while, in turn,
// a gateway, the validate worker, a storage node (distribute worker), an agent and the Kafka
// broker itself are killed with SIGKILL and started again. Afterwards:
//   - every upload or import answered 202 is `ready` with the right sha256, and every storage
//     node serves bytes with that sha256;
//   - none answered with an error exists; one that got no answer at all (its gateway died with
//     it) either does not exist or is ready with the right bytes — never stuck;
//   - no duplicates: names and ids are unique and the count is exactly what was accepted;
//   - every agent's residency, as both gateways see it, is what its engine's /v1/models lists.
// The counts are printed. Sizes: LORAPLANE_CHAOS_UPLOADS (default 50) uploads and imports,
// LORAPLANE_CHAOS_ROUNDS (default 1) rounds of the five kills, the broker down for
// LORAPLANE_CHAOS_BROKER_DOWN_S (default 35) seconds each time (docs/lifecycle.md, "Chaos").
#define BOOST_TEST_MODULE chaos_test
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <condition_variable>
#include <boost/test/results_collector.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "common/sha256.hpp"
#include "test/support/broker.hpp"
#include "test/support/cluster.hpp"
#include "test/support/fake_hub.hpp"

namespace lt = loraplane::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && std::atoi(v) > 0 ? std::atoi(v) : fallback;
}

struct Op {
  bool import = false;
  std::string name, repo, sha256;
  std::string file;  // the upload's bytes
  std::size_t tenant = 0;
  int gateway = 0;
  // outcome
  int status = -1;  // -1 not run, 0 no answer
  int retries = 0;   // of a 503
  std::string id, detail;
};

struct Step {
  std::string what;
  std::function<void()> kill, restart;
};

// The answer's Retry-After in seconds, within 1..5 (what a patient client would wait here).
int retry_after_s(const lt::Answer& a) {
  auto it = a.headers.find("retry-after");
  const int s = it == a.headers.end() ? 1 : std::atoi(it->second.c_str());
  return std::clamp(s, 1, 5);
}

std::set<std::string> string_set(const json::value& a) {
  std::set<std::string> out;
  for (const auto& v : a.as_array()) out.emplace(v.as_string());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(chaos, *boost::unit_test::precondition(lt::BrokerGiven()))

BOOST_AUTO_TEST_CASE(kill_9_of_every_role_and_the_broker_loses_and_duplicates_nothing) {
  const int n = env_int("LORAPLANE_CHAOS_UPLOADS", 50);
  const int rounds = env_int("LORAPLANE_CHAOS_ROUNDS", 1);
  const auto broker_down = std::chrono::seconds(env_int("LORAPLANE_CHAOS_BROKER_DOWN_S", 35));
  const auto started_at = std::chrono::steady_clock::now();

  // The broker is killed too, so it is a private one, not the suite's shared broker.
  lt::PrivateBroker kafka;
  lt::FakeHub hub;
  std::vector<Op> ops(static_cast<std::size_t>(n));
  const std::size_t tenants_needed = static_cast<std::size_t>((n + 149) / 150);  // 200 per tenant
  for (int i = 0; i < n; ++i) {
    auto& op = ops[static_cast<std::size_t>(i)];
    op.import = i % 5 == 4;
    op.name = "chaos-" + std::to_string(i);
    op.tenant = static_cast<std::size_t>(i) % tenants_needed;
    op.gateway = i % 2;
    const auto weights = lt::toy_adapter_file(8, 1000u + static_cast<std::uint32_t>(i));
    op.sha256 = loraplane::sha256_hex(weights);
    if (op.import) {
      op.repo = "chaos/repo-" + std::to_string(i);
      lt::FakeHub::Repo repo;
      repo.commit = loraplane::sha256_hex(op.repo).substr(0, 40);
      repo.files = {{"adapter_config.json", lt::kToyConfig}, {"adapter_model.safetensors", weights}};
      hub.add(op.repo, repo);
    } else {
      op.file = weights;
    }
  }

  lt::ClusterOptions options;
  options.kafka = kafka.bootstrap();
  options.env = {"HF_ENDPOINT=" + hub.endpoint()};
  lt::Cluster c(options);
  std::vector<lt::Role*> gateways = {&c.add_gateway(), &c.add_gateway()};
  auto& validate = c.add_validate();
  std::vector<lt::Role*> storage = {&c.add_storage(), &c.add_storage()};
  std::vector<lt::Role*> engines, agents;
  for (int i = 0; i < 2; ++i) {
    engines.push_back(&c.add_engine("toy-llama", 4));
    agents.push_back(&c.add_agent(*engines.back(), "toy-llama", 4));
  }
  c.start_all();
  std::vector<lt::TenantKey> tenants;
  for (std::size_t t = 0; t < tenants_needed; ++t)
    tenants.push_back(lt::create_tenant(gateways[0]->port(), c.admin_token(),
                                        "chaos-" + std::to_string(t), "dedicated"));
  // Both gateways know the tenants before the load starts.
  for (const auto& t : tenants)
    BOOST_REQUIRE(lt::eventually([&] {
                    auto r = lt::call(gateways[1]->port(), "GET", "/v1/models", {}, lt::bearer(t.key));
                    return r.status == 200 ? std::string() : "tenant unknown to gateway-1";
                  }, 30s).empty());

  // The kills, in turn; later rounds take the other gateway, storage node and agent.
  std::vector<Step> steps;
  std::map<std::string, int> kills;
  for (int r = 0; r < rounds; ++r) {
    const auto other = static_cast<std::size_t>(r % 2);
    for (lt::Role* role : {gateways[other], &validate, storage[other], agents[other]})
      steps.push_back({role->name(), [role] { role->kill(); }, [role] { role->start(); }});
    // Down for longer than the gateways' 30 s delivery timeout: uploads in that window are
    // refused (503), and refused ones must leave nothing behind.
    steps.push_back({"kafka", [&kafka] { kafka.kill(); },
                     [&kafka, broker_down] {
                       std::this_thread::sleep_for(broker_down);
                       kafka.restart();
                     }});
  }

  // Segment 0 runs before the first kill, segment k+1 from kill k on (while that role is down
  // and restarting), the last one once every role is back.
  const int segments = static_cast<int>(steps.size()) + 2;
  const int per_segment = std::max(1, n / segments);
  auto segment_of = [&](int i) { return std::min(i / per_segment, segments - 1); };
  std::mutex mutex;
  std::condition_variable changed;
  int released = 1;
  std::vector<int> answered(static_cast<std::size_t>(segments), 0);
  int next = 0;

  auto client = [&] {
    for (;;) {
      int i;
      {
        std::unique_lock lock(mutex);
        if (next >= n) return;
        i = next++;
        changed.wait(lock, [&] { return released > segment_of(i); });
      }
      auto& op = ops[static_cast<std::size_t>(i)];
      const auto port = gateways[static_cast<std::size_t>(op.gateway)]->port();
      const auto& key = tenants[op.tenant].key;
      auto send = [&] {
        return op.import ? lt::import_repo(port, key, op.name, "toy-llama", op.repo)
                         : lt::upload(port, key,
                                      {{"name", op.name}, {"base_model", "toy-llama"},
                                       {"config", lt::kToyConfig}},
                                      op.file);
      };
      // As a well-behaved client does: a 429 (the tenant's concurrent-upload limit) is retried
      // after a pause, and a 503 (Kafka unreachable: refused at once, before anything is
      // written) after its Retry-After, for up to a minute; what is still refused then counts.
      auto r = send();
      const auto give_up = std::chrono::steady_clock::now() + 60s;
      for (int attempt = 0; r.status == 429 && attempt < 60; ++attempt) {
        std::this_thread::sleep_for(500ms);
        r = send();
      }
      while (r.status == 503 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::seconds(retry_after_s(r)));
        r = send();
        ++op.retries;
      }
      std::lock_guard lock(mutex);
      op.status = r.status;
      op.detail = r.answered() ? r.body.substr(0, 300) : r.error;
      if (r.status == 202) op.id = std::string(lt::json_object(r.body)["id"].as_string());
      ++answered[static_cast<std::size_t>(segment_of(i))];
      changed.notify_all();
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < std::min(8, n); ++i) clients.emplace_back(client);

  for (std::size_t k = 0; k < steps.size(); ++k) {
    {
      // Some of the segment's operations are through when the role dies; others are in flight.
      std::unique_lock lock(mutex);
      changed.wait_for(lock, 120s, [&] { return answered[k] > 0 || next >= n; });
    }
    BOOST_TEST_MESSAGE("kill -9 " << steps[k].what);
    steps[k].kill();
    {
      std::lock_guard lock(mutex);
      released = static_cast<int>(k) + 2;
      changed.notify_all();
    }
    try {
      steps[k].restart();
    } catch (const std::exception& e) {
      BOOST_FAIL(steps[k].what << " did not come back after kill -9: " << e.what() << "\n"
                               << c.logs());
    }
    ++kills[steps[k].what];
  }
  {
    std::lock_guard lock(mutex);
    released = segments;
    changed.notify_all();
  }
  for (auto& t : clients) t.join();
  const auto chaos_done = std::chrono::steady_clock::now();

  // Nothing died on its own.
  for (auto kind : {lt::RoleKind::gateway, lt::RoleKind::validate, lt::RoleKind::storage,
                    lt::RoleKind::engine, lt::RoleKind::agent})
    for (auto* r : c.roles(kind)) BOOST_TEST_REQUIRE(r->running(), r->name() << " died:\n" << r->logs());

  // Outcomes as clients saw them.
  int accepted = 0, rejected = 0, unanswered = 0, imports = 0;
  std::map<int, int> by_status;
  std::map<std::string, Op*> by_name;
  for (auto& op : ops) {
    by_name[op.name] = &op;
    imports += op.import ? 1 : 0;
    ++by_status[op.status];
    if (op.status == 202) ++accepted;
    else if (op.status == 0) ++unanswered;
    else ++rejected;
  }

  // Every 202 becomes ready with the right bytes (all of them within one deadline).
  const auto port = gateways[0]->port();
  const auto settle_by = std::chrono::steady_clock::now() + 150s;
  auto time_left = [&] {
    return std::max(std::chrono::milliseconds(1000),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        settle_by - std::chrono::steady_clock::now()));
  };
  int ready = 0;
  for (auto& op : ops) {
    if (op.status != 202) continue;
    auto s = lt::settle(port, tenants[op.tenant].key, op.id, time_left());
    BOOST_TEST_CONTEXT(op.name << " " << op.id) {
      const auto* status = s.if_contains("status");
      BOOST_TEST((status && status->as_string() == "ready"), json::serialize(s));
      if (status && status->as_string() == "ready") ++ready;
      const auto* sha = s.if_contains("sha256");
      BOOST_TEST((sha && sha->is_string() && sha->as_string() == op.sha256), json::serialize(s));
    }
  }

  // The tenants' listings, on both gateways: unique, exactly the accepted ones (plus those whose
  // answer was lost, if they made it), nothing that was refused.
  int unanswered_present = 0;
  std::map<std::string, std::string> listed_sha;  // id → sha256
  for (std::size_t t = 0; t < tenants.size(); ++t) {
    auto listed = lt::list_adapters(port, tenants[t].key);
    std::set<std::string> names, ids;
    for (auto& a : listed) {
      const std::string name(a["name"].as_string()), id(a["id"].as_string());
      BOOST_TEST(names.insert(name).second, "duplicate name " << name);
      BOOST_TEST(ids.insert(id).second, "duplicate id " << id);
      auto it = by_name.find(name);
      BOOST_TEST_REQUIRE((it != by_name.end()), "unknown adapter " << name);
      auto& op = *it->second;
      BOOST_TEST_CONTEXT(name << " " << id << " (answered " << op.status << ": " << op.detail << ")") {
        BOOST_TEST((op.status == 202 || op.status == 0), "an adapter whose request failed exists");
        if (op.status == 202) BOOST_TEST(op.id == id);
        if (op.status == 0) {
          ++unanswered_present;
          auto s = lt::settle(port, tenants[t].key, id, time_left());
          BOOST_TEST(s["status"].as_string() == "ready", json::serialize(s));
          BOOST_TEST(s["sha256"].as_string() == op.sha256);
        }
      }
      listed_sha[id] = op.sha256;
    }
    for (const auto& op : ops)
      if (op.tenant == t && op.status == 202) BOOST_TEST(ids.contains(op.id), op.name << " not listed");
    // The other gateway lists the same.
    auto same = lt::eventually([&]() -> std::string {
      std::set<std::string> other;
      for (auto& a : lt::list_adapters(gateways[1]->port(), tenants[t].key))
        other.emplace(a["id"].as_string());
      return other == ids ? "" : "gateway-1 lists " + std::to_string(other.size()) + " adapters, gateway-0 " +
                                      std::to_string(ids.size());
    }, 60s);
    BOOST_TEST(same.empty(), same);
  }
  BOOST_TEST(listed_sha.size() == static_cast<std::size_t>(accepted + unanswered_present));

  // Every storage node holds every adapter's bytes.
  std::map<std::string, int> stored;
  for (auto* node : storage) {
    auto missing = lt::eventually([&]() -> std::string {
      for (const auto& [id, sha] : listed_sha) {
        auto got = lt::stored_sha256(node->port(), sha);
        if (!got) return node->name() + " lacks " + id;
        if (*got != sha) return node->name() + " serves wrong bytes for " + id;
      }
      return {};
    }, 120s);
    BOOST_TEST(missing.empty(), missing);
    if (missing.empty()) stored[node->name()] = static_cast<int>(listed_sha.size());
  }

  // Every agent's residency, as both gateways see it, matches its engine, and holds only adapters
  // that exist.
  std::map<std::string, std::size_t> loaded;
  auto residency = lt::eventually([&]() -> std::string {
    for (auto* e : engines) {
      const std::string engine_id = "toy-llama@127.0.0.1:" + std::to_string(e->port());
      auto in_engine_list = lt::engine_loras(e->port());
      std::set<std::string> in_engine(in_engine_list.begin(), in_engine_list.end());
      for (const auto& lora : in_engine)
        if (!listed_sha.contains(lora.substr(lora.find(':') + 1)))
          return e->name() + " holds " + lora + ", not an adapter of any tenant";
      for (auto* g : gateways) {
        bool found = false;
        for (const auto& v : lt::engines(g->port(), c.admin_token())) {
          const auto& r = v.as_object();
          if (r.at("id").as_string() != engine_id) continue;
          found = true;
          auto registered = string_set(r.at("gpu"));
          auto cpu = string_set(r.at("cpu"));
          registered.insert(cpu.begin(), cpu.end());
          if (registered != in_engine)
            return g->name() + ": residency of " + engine_id + " " + json::serialize(r) +
                   " differs from the engine's " + std::to_string(in_engine.size()) + " adapters";
          if (!r.at("healthy").as_bool()) return g->name() + ": " + engine_id + " not healthy";
        }
        if (!found) return g->name() + " does not know " + engine_id;
      }
      loaded[e->name()] = in_engine.size();
    }
    return {};
  }, 90s);
  BOOST_TEST(residency.empty(), residency);

  // And both gateways still serve inference on the accepted adapters (an ensure on an engine
  // that does not hold one: the restarted agent loads it).
  int served = 0;
  for (const auto& op : ops) {
    if (op.status != 202 || served >= 4) continue;
    for (auto* g : gateways) {
      const std::string model = "toy-llama:" + op.name;
      auto r = lt::call(g->port(), "POST", "/v1/chat/completions",
                        json::serialize(json::object{
                            {"model", model},
                            {"max_tokens", 4},
                            {"messages", json::array{json::object{{"role", "user"}, {"content", "hi"}}}}}),
                        lt::bearer(tenants[op.tenant].key));
      BOOST_TEST(r.status == 200, g->name() << " " << model << ": " << r.status << " " << r.body << r.error);
    }
    ++served;
  }

  std::ostringstream report;
  report << "chaos: " << n << " operations (" << n - imports << " uploads, " << imports
         << " imports), " << rounds << " round(s) of kills\n"
         << "  answers: " << accepted << " accepted (202), " << rejected << " refused, "
         << unanswered << " without an answer (" << unanswered_present << " of them exist, ready)\n"
         << "  by status:";
  for (const auto& [status, count] : by_status) report << " " << status << "=" << count;
  int retried = 0, retries = 0;
  for (const auto& op : ops) {
    retried += op.retries > 0 ? 1 : 0;
    retries += op.retries;
  }
  report << "\n  503 retried after Retry-After: " << retried << " operations, " << retries
         << " retries";
  for (int seg = 0; seg < segments; ++seg) {
    int a = 0, refused = 0, none = 0;
    for (int i = 0; i < n; ++i) {
      if (segment_of(i) != seg) continue;
      const int st = ops[static_cast<std::size_t>(i)].status;
      (st == 202 ? a : st == 0 ? none : refused) += 1;
    }
    report << "\n  "
           << (seg == 0              ? std::string("started before the first kill")
               : seg == segments - 1 ? std::string("started after every restart")
                                     : "started once " + steps[static_cast<std::size_t>(seg - 1)].what +
                                           " was killed")
           << ": " << a << " accepted, " << refused << " refused, " << none << " unanswered";
  }
  report << "\n  ready with the right sha256: " << ready << " of " << accepted
         << " accepted; listed: " << listed_sha.size() << ", no duplicates\n  stored:";
  for (const auto& [node, count] : stored) report << " " << node << "=" << count;
  report << "\n  kill -9 and restart:";
  for (const auto& [what, count] : kills) report << " " << what << "=" << count;
  report << "\n  engines' adapters (= residency):";
  for (const auto& [engine, count] : loaded) report << " " << engine << "=" << count;
  report << "\n  time: chaos "
         << std::chrono::duration_cast<std::chrono::seconds>(chaos_done - started_at).count()
         << " s, total "
         << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                             started_at)
                .count()
         << " s\n";
  std::cout << report.str() << std::flush;
  for (const auto& op : ops)
    if (op.status != 202) BOOST_TEST_MESSAGE(op.name << ": " << op.status << " " << op.detail);
  // On a failure, every role's output (kills included) goes to a file: it is long.
  namespace ut = boost::unit_test;
  if (!ut::results_collector.results(ut::framework::current_test_case().p_id).passed()) {
    const std::string path =
        (std::filesystem::temp_directory_path() / ("chaos-" + c.prefix() + "log")).string();
    std::ofstream(path) << c.logs();
    std::cout << "every role's output: " << path << std::endl;
  }
}

BOOST_AUTO_TEST_SUITE_END()
