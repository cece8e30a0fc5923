#include "gateway/inference/tenant_inflight.hpp"

namespace loraplane::gateway::inference {

int default_max_inflight(schema::Tier tier) {
  switch (tier) {
    case schema::Tier::shared: return 32;
    case schema::Tier::reserved: return 128;
    case schema::Tier::dedicated: return 512;
  }
  return 32;
}

}  // namespace loraplane::gateway::inference
