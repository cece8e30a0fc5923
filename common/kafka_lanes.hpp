// A group consumer that handles messages of different partitions at once: `lanes` threads run
// the handler, and a partition has at most one message in hand, so each partition's messages
// are still handled in order, one after the other, and a slow one holds up only its own
// partition. Offsets and retries are as Consumer::start's (common/kafka.hpp): an offset is
// committed only after its message's handler returned Handled::done. A revocation waits for
// the messages in hand of the partitions it takes away, so their next owner never handles one
// while this consumer still does; stop() waits for every message in hand.
//
// Why not one group member per lane: librdkafka's mock cluster (the embedded mode) rebalances a
// group of several members slowly and repeatedly, leaving partitions unassigned for tens of
// seconds.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "common/kafka.hpp"

namespace loraplane::kafka {

// `lane` (0 .. lanes-1) tells which thread runs it: per-lane state needs no locking. The
// handler must not call the consumer's stop().
using LaneHandler = std::function<Handled(std::size_t lane, const Message& message)>;

// Group mode only (options.group_id set); lanes ≥ 1.
std::unique_ptr<Consumer> start_lanes(const Cluster& cluster, ConsumerOptions options,
                                      std::size_t lanes, LaneHandler handler);

}  // namespace loraplane::kafka
