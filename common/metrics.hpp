// Process-wide Prometheus registry; every role registers its loraplane_* families here and
// serves them on its own /metrics.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

namespace loraplane::metrics {

prometheus::Registry& registry();
// Prometheus text exposition format of everything registered.
std::string serialize();

}  // namespace loraplane::metrics
