// Test helper: the multipart/form-data body of an adapter upload (POST /v1/adapters/upload).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loraplane::test {

using FormFields = std::vector<std::pair<std::string, std::string>>;

// One part per field, in order, then the `file` part (filename adapter_model.safetensors,
// application/octet-stream) holding `file`, then the closing boundary.
std::string multipart_body(std::string_view boundary, const FormFields& fields,
                           std::string_view file);

// The Content-Type header value that goes with a body built on `boundary`.
std::string multipart_content_type(std::string_view boundary);

}  // namespace loraplane::test
