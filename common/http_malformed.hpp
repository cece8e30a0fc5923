// Whether an HTTP read failed on the request's syntax (a bad Content-Length, two that differ, a
// bad chunk, a control character in a field), which deserves a 400 "malformed_request" naming
// it, rather than on a hang-up, a timeout or a truncated body, where no one is left to answer.
#pragma once

#include <boost/system/error_code.hpp>

namespace loraplane::http {

bool malformed_request(const boost::system::error_code& ec);

}  // namespace loraplane::http
