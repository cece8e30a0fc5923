#include "cmd/import/upload.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/asio.hpp"
#include "common/blocking_io.hpp"
#include "common/sha256.hpp"

namespace loraplane::cmd::import {

namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {

constexpr std::size_t kPiece = 1 << 20;

std::string part_header(const std::string& boundary, const std::string& name,
                        const std::string& filename = {}) {
  std::string out = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
  if (!filename.empty()) out += "; filename=\"" + filename + "\"\r\nContent-Type: application/octet-stream";
  return out + "\r\n\r\n";
}

Result<std::string> read_small(const std::string& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::invalid_argument, "cannot read " + path);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (out.size() > limit) return make_error(Errc::invalid_argument, path + " is larger than 64 KiB");
  return out;
}

}  // namespace

Result<std::string> file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::invalid_argument, "cannot read " + path);
  Sha256 sha;
  std::vector<char> piece(kPiece);
  while (in) {
    in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
    sha.update(std::string_view(piece.data(), static_cast<std::size_t>(in.gcount())));
  }
  return sha.finish_hex();
}

Result<UploadAnswer> upload_file(const http::Endpoint& api, const std::string& key,
                                 const Entry& entry, std::atomic<std::uint64_t>& sent) {
  std::error_code fs_ec;
  const auto size = std::filesystem::file_size(*entry.file, fs_ec);
  if (fs_ec) return make_error(Errc::invalid_argument, "cannot read " + *entry.file + ": " + fs_ec.message());
  std::ifstream file(*entry.file, std::ios::binary);
  if (!file) return make_error(Errc::invalid_argument, "cannot read " + *entry.file);

  const std::string boundary = "loraplane-import-" + random_base62(16);
  std::string preamble = part_header(boundary, "name") + entry.name + "\r\n" +
                         part_header(boundary, "base_model") + entry.base_model + "\r\n";
  if (entry.lora_alpha) preamble += part_header(boundary, "lora_alpha") + *entry.lora_alpha + "\r\n";
  if (entry.config) {
    auto config = read_small(*entry.config, 64 * 1024);
    if (!config) return config.error();
    preamble += part_header(boundary, "config", "adapter_config.json") + *config + "\r\n";
  }
  preamble += part_header(boundary, "file", "adapter_model.safetensors");
  const std::string epilogue = "\r\n--" + boundary + "--\r\n";

  const std::string where = api.host + ":" + std::to_string(api.port);
  asio::io_context io;
  beast::tcp_stream stream(io);
  boost::system::error_code ec;
  tcp::resolver resolver(io);
  stream.expires_after(std::chrono::seconds(30));
  auto addresses = resolver.resolve(api.host, std::to_string(api.port), ec);
  if (!ec) ec = run_blocking(io, [&](auto done) { stream.async_connect(addresses, done); });
  if (ec) return make_error(Errc::unavailable, "cannot connect to " + where + ": " + ec.message());

  bhttp::request<bhttp::empty_body> head{bhttp::verb::post, api.base_path + "/v1/adapters/upload", 11};
  head.set(bhttp::field::host, http::host_header(api));
  head.set(bhttp::field::authorization, "Bearer " + key);
  head.set(bhttp::field::content_type, "multipart/form-data; boundary=" + boundary);
  head.content_length(preamble.size() + size + epilogue.size());
  bhttp::request_serializer<bhttp::empty_body> serializer(head);
  stream.expires_after(std::chrono::seconds(60));
  ec = run_blocking(io, [&](auto done) { bhttp::async_write_header(stream, serializer, done); });
  if (!ec)
    ec = run_blocking(io, [&](auto done) { asio::async_write(stream, asio::buffer(preamble), done); });
  std::vector<char> piece(kPiece);
  // The gateway may answer early (422 on a bad header, 413 over the limit) and stop reading:
  // a failed write then still leaves its answer to read.
  bool write_failed = static_cast<bool>(ec);
  while (!write_failed && file) {
    file.read(piece.data(), static_cast<std::streamsize>(piece.size()));
    const auto n = static_cast<std::size_t>(file.gcount());
    if (n == 0) break;
    stream.expires_after(std::chrono::seconds(60));
    ec = run_blocking(
        io, [&](auto done) { asio::async_write(stream, asio::buffer(piece.data(), n), done); });
    if (ec) write_failed = true;
    else sent += n;
  }
  if (!write_failed)
    ec = run_blocking(io, [&](auto done) { asio::async_write(stream, asio::buffer(epilogue), done); });

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(1 << 20);
  stream.expires_after(std::chrono::seconds(120));
  boost::system::error_code read_ec;
  read_ec =
      run_blocking(io, [&](auto done) { bhttp::async_read(stream, buffer, parser, done); });
  if (read_ec)
    return make_error(Errc::unavailable, "upload to " + where + " failed: " +
                                             (ec ? ec.message() : read_ec.message()));
  UploadAnswer out;
  out.status = static_cast<int>(parser.get().result_int());
  out.body = std::move(parser.get().body());
  if (auto it = parser.get().find(bhttp::field::retry_after); it != parser.get().end())
    out.retry_after = std::string(it->value());
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

}  // namespace loraplane::cmd::import
