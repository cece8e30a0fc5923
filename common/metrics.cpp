#include "common/metrics.hpp"

#include <prometheus/text_serializer.h>

namespace loraplane::metrics {

prometheus::Registry& registry() {
  static prometheus::Registry instance;
  return instance;
}

std::string serialize() {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry().Collect());
}

}  // namespace loraplane::metrics
