// Model-name resolution of the inference API: gateway::inference::resolve over an
// AdapterDirectory fed records, hides and tombstones, with the catalog of ops/models.json.
// Input: lines, fields separated by '|':
//   A|tenant|base|name|status|seq|id   put an adapter state record
//   J|id|<AdapterState JSON>           apply a raw record of loraplane.adapters
//   T|id                               apply a tombstone
//   H|id                               hide (a delete this gateway asked for)
//   R|tenant|chat|completion|embedding|<model>   resolve, then check the answer
// Invariants: a resolved adapter belongs to the caller's tenant, is visible, ready, on the
// named base with the named name, and the upstream model is "<base>:<id>"; a bare base
// resolves only to itself; a 404 is byte-for-byte the answer a tenant without adapters gets,
// so another tenant's adapter is indistinguishable from a missing one.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/kafka.hpp"
#include "common/model_catalog.hpp"
#include "fuzz/invariant.hpp"
#include "gateway/adapter_directory.hpp"
#include "gateway/context.hpp"
#include "gateway/inference/proxy.hpp"
#include "gateway/tenant_directory.hpp"
#include "schema/json.hpp"

using namespace loraplane;
using namespace loraplane::gateway;

namespace {

using loraplane::fuzz::fail;

// The resolver never produces; a GatewayContext needs one.
class NoProducer final : public kafka::Producer {
 public:
  void produce(std::string_view, std::string_view, std::optional<std::string_view>,
               std::vector<kafka::Header>, DeliveryCallback) override {
    fail("the resolver produced a message");
  }
  void produce_delivered(std::string_view, std::string_view, std::optional<std::string_view>,
                         std::vector<kafka::Header>, DeliveredCallback) override {
    fail("the resolver produced a message");
  }
  bool flush(std::chrono::milliseconds) override { return true; }
};

const ModelCatalog& catalog() {
  static const ModelCatalog c = [] {
    auto loaded = ModelCatalog::load(LORAPLANE_SOURCE_DIR "/ops/models.json");
    if (!loaded) fail("cannot load ops/models.json");
    return std::move(loaded).value();
  }();
  return c;
}

std::vector<std::string_view> split(std::string_view line, std::size_t max_fields) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < max_fields) {
    const auto bar = line.find('|');
    if (bar == std::string_view::npos) break;
    out.push_back(line.substr(0, bar));
    line.remove_prefix(bar + 1);
  }
  out.push_back(line);
  return out;
}

// Who owns each adapter id by the directory's rules (the highest seq wins; equal replaces).
struct Owner {
  std::string tenant;
  std::uint64_t seq = 0;
};

using Answer = std::variant<inference::Target, http::Response>;

std::string describe(const Answer& a) {
  if (const auto* t = std::get_if<inference::Target>(&a))
    return "target " + t->caller_model + "|" + t->base + "|" + t->adapter_id + "|" +
           t->upstream_model;
  const auto& r = std::get<http::Response>(a);
  return "response " + std::to_string(r.result_int()) + " " + r.body();
}

void check(const GatewayContext& ctx, const std::map<std::string, Owner>& owners,
           std::string_view tenant_id, inference::Api api, const std::string& model) {
  schema::TenantRecord tenant;
  tenant.id = std::string(tenant_id);
  const Answer answer = inference::resolve(ctx, tenant, api, model);
  schema::TenantRecord nobody;
  nobody.id = "ten_fuzz_nobody_has_no_adapters";
  const Answer baseline = inference::resolve(ctx, nobody, api, model);

  const auto colon = model.find(':');
  const std::string base = model.substr(0, colon);
  if (const auto* target = std::get_if<inference::Target>(&answer)) {
    if (target->caller_model != model || target->base != base) fail("target names another model");
    const BaseModel* found = ctx.catalog.find(base);
    if (found == nullptr) fail("resolved a base that is not in the catalog");
    if ((found->kind == ModelKind::embedding) != (api == inference::Api::embedding))
      fail("resolved a base of the wrong kind for this API");
    if (colon == std::string::npos) {
      if (!target->adapter_id.empty() || target->upstream_model != base)
        fail("a bare base resolved to something else");
    } else {
      const std::string name = model.substr(colon + 1);
      if (target->adapter_id.empty()) fail("a named adapter resolved to the bare base");
      if (target->upstream_model != base + ":" + target->adapter_id) fail("upstream model");
      const auto it = owners.find(target->adapter_id);
      if (it == owners.end() || it->second.tenant != tenant_id)
        fail("resolved an adapter of another tenant");
      const auto state = ctx.adapters.get(tenant_id, target->adapter_id);
      if (!state) fail("resolved an adapter the directory does not show this tenant");
      if (state->adapter.status != schema::AdapterStatus::ready) fail("resolved a non-ready one");
      if (state->adapter.base_model != base || state->adapter.name != name)
        fail("resolved an adapter with another base or name");
    }
  } else {
    const auto& res = std::get<http::Response>(answer);
    const unsigned status = res.result_int();
    if (status != 400 && status != 404 && status != 409) fail("unexpected status");
    if (status == 404 && describe(answer) != describe(baseline))
      fail("a 404 differs from a tenant without adapters: it leaks another tenant's adapter");
  }
  // A tenant with no adapters never gets one.
  if (const auto* t = std::get_if<inference::Target>(&baseline); t && !t->adapter_id.empty())
    fail("a tenant without adapters resolved an adapter");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  TenantDirectory tenants;
  AdapterDirectory adapters;
  NoProducer producer;
  GatewayContext ctx{tenants, adapters, producer, "", [] { return std::int64_t{0}; }, catalog(),
                     0, nullptr, nullptr, [] { return std::int64_t{0}; }, nullptr};
  std::map<std::string, Owner> owners;

  while (!input.empty()) {
    const auto eol = input.find('\n');
    const std::string_view line = input.substr(0, eol);
    input.remove_prefix(eol == std::string_view::npos ? input.size() : eol + 1);
    if (line.size() < 2 || line[1] != '|') continue;
    const auto f = split(line.substr(2), line[0] == 'J' ? 2 : 6);
    switch (line[0]) {
      case 'A': {
        if (f.size() != 6) break;
        const auto status = schema::parse_adapter_status(f[3]);
        if (!status) break;
        schema::AdapterState s;
        s.tenant_id = std::string(f[0]);
        s.adapter.base_model = std::string(f[1]);
        s.adapter.name = std::string(f[2]);
        s.adapter.status = *status;
        s.seq = std::strtoull(std::string(f[4]).c_str(), nullptr, 10);
        s.adapter.id = std::string(f[5]);
        if (s.adapter.id.empty()) break;
        auto [it, fresh] = owners.try_emplace(s.adapter.id, Owner{s.tenant_id, s.seq});
        if (!fresh && it->second.seq <= s.seq) it->second = Owner{s.tenant_id, s.seq};
        adapters.put(s);
        break;
      }
      case 'J': {
        if (f.size() != 2) break;
        adapters.apply(f[0], f[1]);
        // The directory files a record under the id inside it, by the same seq rule.
        if (auto parsed = schema::parse<schema::AdapterState>(f[1])) {
          auto [it, fresh] =
              owners.try_emplace(parsed->adapter.id, Owner{parsed->tenant_id, parsed->seq});
          if (!fresh && it->second.seq <= parsed->seq)
            it->second = Owner{parsed->tenant_id, parsed->seq};
        }
        break;
      }
      case 'T':
        adapters.apply(f[0], std::nullopt);
        owners.erase(std::string(f[0]));
        break;
      case 'H':
        adapters.hide(f[0]);
        break;
      case 'R': {
        if (f.size() < 3) break;
        // The model is the rest of the line, '|' included.
        const std::size_t skip = 2 + f[0].size() + 1 + f[1].size() + 1;
        const std::string model(line.substr(skip));
        const inference::Api api = f[1] == "embedding"    ? inference::Api::embedding
                                   : f[1] == "completion" ? inference::Api::completion
                                                          : inference::Api::chat;
        check(ctx, owners, f[0], api, model);
        break;
      }
      default:
        break;
    }
  }
  return 0;
}
