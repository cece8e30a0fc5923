// Whether an HTTP read failed on the request's syntax (a bad Content-Length, two that differ, a
// bad chunk, a control character in a field), which deserves a 400 "malformed_request" naming
// it, rather than on a hang-up, a timeout or a truncated body, where no one is left to answer.
#pragma once

#include <boost/system/error_code.hpp>

#include "common/http.hpp"

namespace loraplane::http {

bool malformed_request(const boost::system::error_code& ec);
// The 400 for such a request: code "malformed_request", the parser's words, and Connection:
// close (the rest of the request cannot be framed).
Response malformed_response(const boost::system::error_code& ec);

}  // namespace loraplane::http
