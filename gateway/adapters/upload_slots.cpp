#include "gateway/adapters/upload_slots.hpp"

#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include "common/metrics.hpp"

namespace loraplane::gateway::adapters {

namespace {
prometheus::Gauge& in_progress_gauge() {
  static auto& gauge = prometheus::BuildGauge()
                           .Name("loraplane_gateway_uploads_in_progress")
                           .Help("Streaming uploads admitted and not finished on this gateway")
                           .Register(metrics::registry())
                           .Add({});
  return gauge;
}
}  // namespace

UploadSlots::UploadSlots(std::size_t gateway_max, std::size_t tenant_max)
    : tenant_max_(tenant_max), slots_(gateway_max, &in_progress_gauge()) {}

}  // namespace loraplane::gateway::adapters
