#include "test/support/multipart_body.hpp"

namespace loraplane::test {

std::string multipart_body(std::string_view boundary, const FormFields& fields,
                           std::string_view file) {
  const std::string b(boundary);
  std::string body;
  body.reserve(file.size() + 1024);
  for (const auto& [name, value] : fields)
    body += "--" + b + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" +
            value + "\r\n";
  body += "--" + b +
          "\r\nContent-Disposition: form-data; name=\"file\"; "
          "filename=\"adapter_model.safetensors\"\r\nContent-Type: application/octet-stream\r\n\r\n";
  body += file;
  body += "\r\n--" + b + "--\r\n";
  return body;
}

std::string multipart_content_type(std::string_view boundary) {
  return "multipart/form-data; boundary=" + std::string(boundary);
}

}  // namespace loraplane::test
