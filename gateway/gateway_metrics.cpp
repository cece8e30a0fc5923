#include "gateway/gateway_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <array>
#include <mutex>
#include <unordered_map>

#include "common/metrics.hpp"

namespace loraplane::gateway {

namespace {

struct Families {
  prometheus::Family<prometheus::Counter>& uploads = prometheus::BuildCounter()
      .Name("loraplane_uploads_total")
      .Help("Adapter uploads by outcome (accepted = 202)")
      .Register(metrics::registry());
  prometheus::Counter& upload_bytes = prometheus::BuildCounter()
      .Name("loraplane_upload_bytes_total")
      .Help("Adapter file bytes received by uploads answered 202")
      .Register(metrics::registry())
      .Add({});
  prometheus::Family<prometheus::Histogram>& upload_seconds = prometheus::BuildHistogram()
      .Name("loraplane_upload_duration_seconds")
      .Help("Time from the upload's header to its 202 (body streamed, chunks acknowledged)")
      .Register(metrics::registry());
  prometheus::Family<prometheus::Counter>& imports = prometheus::BuildCounter()
      .Name("loraplane_imports_total")
      .Help("Hugging Face imports queued, by outcome")
      .Register(metrics::registry());
  prometheus::Family<prometheus::Counter>& tenant_requests = prometheus::BuildCounter()
      .Name("loraplane_tenant_requests_total")
      .Help("Inference requests by tenant (first 200 tenants by id, the rest as _other) and API")
      .Register(metrics::registry());
  std::mutex mutex;
  // The counters of each labelled tenant (chat, completion, embedding), found once: a Family's
  // Add builds and hashes a label map, too dear for every request.
  std::unordered_map<std::string, std::array<prometheus::Counter*, 3>> labelled;
  std::array<prometheus::Counter*, 3> other{};
};

Families& families() {
  static Families f;
  return f;
}

const prometheus::Histogram::BucketBoundaries kUploadBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                                                10, 30, 60, 120};

}  // namespace

void count_upload(std::string_view outcome, std::uint64_t bytes, double seconds) {
  auto& f = families();
  f.uploads.Add({{"outcome", std::string(outcome)}}).Increment();
  if (outcome == "accepted") {
    f.upload_bytes.Increment(static_cast<double>(bytes));
    f.upload_seconds.Add({}, kUploadBuckets).Observe(seconds);
  }
}

void count_import(std::string_view outcome) {
  families().imports.Add({{"outcome", std::string(outcome)}}).Increment();
}

void count_tenant_request(const std::string& tenant_id, std::string_view api) {
  static constexpr std::array<std::string_view, 3> kApis{"chat", "completion", "embedding"};
  std::size_t index = 0;
  while (index + 1 < kApis.size() && kApis[index] != api) ++index;
  auto& f = families();
  prometheus::Counter* counter = nullptr;
  {
    std::lock_guard lock(f.mutex);
    auto found = f.labelled.find(tenant_id);
    std::array<prometheus::Counter*, 3>* counters = nullptr;
    if (found != f.labelled.end()) {
      counters = &found->second;
    } else if (f.labelled.size() < kMaxTenantLabels) {
      counters = &f.labelled[tenant_id];
    } else {
      counters = &f.other;
    }
    auto& slot = (*counters)[index];
    if (!slot) {
      const std::string label = counters == &f.other ? std::string("_other") : tenant_id;
      slot = &f.tenant_requests.Add({{"tenant", label}, {"api", std::string(kApis[index])}});
    }
    counter = slot;
  }
  counter->Increment();
}

}  // namespace loraplane::gateway
