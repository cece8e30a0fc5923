// Times AdapterDirectory::brief_by_name (every inference request resolves `base:name` with it)
// and count (every upload's quota check) for `--tenants` tenants of `--adapters` ready
// adapters each, asking for the tenant's oldest adapter. Prints p50 and p99 per round.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "gateway/adapter_directory.hpp"

using namespace loraplane;

int main(int argc, char** argv) {
  CLI::App app{"adapter directory lookups"};
  int adapters = 300, tenants = 20, rounds = 5, lookups = 2000;
  app.add_option("--adapters", adapters, "adapters per tenant")->check(CLI::PositiveNumber);
  app.add_option("--tenants", tenants, "tenants")->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "rounds")->check(CLI::PositiveNumber);
  app.add_option("--lookups", lookups, "lookups per round")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  gateway::AdapterDirectory directory;
  const std::string config(2000, 'c');  // an adapter_config of typical size
  for (int t = 0; t < tenants; ++t)
    for (int i = 0; i < adapters; ++i) {
      schema::AdapterState s;
      s.tenant_id = "ten_" + std::to_string(t) + "_xxxxxxxxxxxx";
      s.adapter.id = gateway::new_adapter_id(1'700'000'000'000 + t * 100'000 + i);
      s.adapter.name = "adapter-" + std::to_string(i);
      s.adapter.base_model = "llama-3.1-8b-instruct";
      s.adapter.status = schema::AdapterStatus::ready;
      s.adapter_config = config;
      s.seq = 1;
      directory.put(s);
    }
  const std::string tenant = "ten_" + std::to_string(tenants / 2) + "_xxxxxxxxxxxx";
  using Clock = std::chrono::steady_clock;
  auto micros = [](Clock::duration d) {
    return std::chrono::duration<double, std::micro>(d).count();
  };
  for (int round = 0; round < rounds; ++round) {
    std::vector<double> brief, count;
    std::size_t sink = 0;
    for (int k = 0; k < lookups; ++k) {
      auto start = Clock::now();
      auto found = directory.brief_by_name(tenant, "llama-3.1-8b-instruct", "adapter-0");
      brief.push_back(micros(Clock::now() - start));
      sink += found ? found->id.size() : 0;
      if (k % 10 == 0) {
        start = Clock::now();
        sink += static_cast<std::size_t>(directory.count(tenant));
        count.push_back(micros(Clock::now() - start));
      }
    }
    std::sort(brief.begin(), brief.end());
    std::sort(count.begin(), count.end());
    std::printf(
        "adapters/tenant %d: brief_by_name p50 %.2f us p99 %.2f us | count p50 %.2f us (%zu)\n",
        adapters, brief[brief.size() / 2], brief[brief.size() * 99 / 100], count[count.size() / 2],
        sink);
  }
}
