// A produce that takes the payload over instead of copying it. Upload chunks are 1 MiB each:
// the copy Producer::produce_delivered makes is one more pass over every uploaded byte.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/kafka.hpp"

namespace loraplane::kafka {

// Producer::produce_delivered with `value` handed over: the producer of Producer::create sends
// it from its own buffer, kept until the delivery report has run, and copies nothing. Other
// Producer implementations copy it as produce_delivered does, as does the mock cluster's claim
// store for a large upload chunk. Same reports and errors. Returns true when nothing was copied.
bool produce_owned(Producer& producer, std::string_view topic, std::string_view key,
                   std::string value, std::vector<Header> headers,
                   Producer::DeliveredCallback done);

}  // namespace loraplane::kafka
