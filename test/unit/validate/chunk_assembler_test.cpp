// ChunkAssembler without Kafka: the messages of a partition range as read_range delivers them.
#include <boost/test/unit_test.hpp>

#include "common/sha256.hpp"
#include "schema/upload_headers.hpp"
#include "test/unit/validate/adapters.hpp"
#include "workers/validate/upload_reader.hpp"

using namespace loraplane;
using namespace loraplane::validate;
using namespace loraplane::validate::testing;

namespace {

struct Range {
  schema::JobUpload job;
  std::vector<kafka::Message> messages;
  std::string bytes;

  Range(std::string file, std::size_t chunk_bytes, const std::string& upload_id = "upl_a")
      : bytes(std::move(file)) {
    job.upload_id = upload_id;
    job.size_bytes = bytes.size();
    job.sha256 = sha256_hex(bytes);
    job.chunk_count = static_cast<std::uint32_t>((bytes.size() + chunk_bytes - 1) / chunk_bytes);
    for (std::uint32_t i = 0; i < job.chunk_count; ++i)
      messages.push_back(chunk(upload_id, i, i + 1 == job.chunk_count,
                               bytes.substr(i * chunk_bytes, chunk_bytes)));
  }

  kafka::Message chunk(const std::string& upload_id, std::uint32_t index, bool last,
                       std::string value) const {
    schema::UploadChunkHeader header;
    header.upload_id = upload_id;
    header.index = index;
    header.last = last;
    if (last) header.count = index + 1;
    kafka::Message m;
    m.key = upload_id;
    m.value = std::move(value);
    m.headers = schema::to_headers(header);
    return m;
  }

  Result<ReceivedUpload> assemble() const {
    ChunkAssembler assembler(job, adapter::kDefaultMaxHeaderBytes);
    for (std::size_t i = 0; i < messages.size(); ++i) {
      auto m = messages[i];
      m.offset = static_cast<std::int64_t>(i);
      if (auto st = assembler.accept(m); !st) return st.error();
    }
    return assembler.finish();
  }
};

std::string message_of(const Result<ReceivedUpload>& r) {
  BOOST_REQUIRE_MESSAGE(!r.ok(), "expected an error");
  BOOST_TEST((r.error().code == Errc::invalid_argument));
  return r.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(chunk_assembler)

BOOST_AUTO_TEST_CASE(assembles_in_order_skipping_other_uploads_and_repeats) {
  Range r(file_of(toy_tensors(8)), 1000);
  BOOST_REQUIRE(r.messages.size() > 3u);
  auto other = r.chunk("upl_other", 0, false, "other bytes");
  r.messages.insert(r.messages.begin() + 1, other);
  r.messages.insert(r.messages.begin() + 3, r.messages[2]);  // a repeat of chunk 1
  auto foreign = r.chunk("upl_a", 0, false, "x");
  foreign.headers = r.chunk("upl_b", 0, false, "").headers;  // right key, other upload id
  r.messages.insert(r.messages.begin() + 2, foreign);
  auto received = r.assemble();
  BOOST_TEST_REQUIRE(received.ok(), (received.ok() ? "" : received.error().message));
  BOOST_TEST(received->sha256 == sha256_hex(r.bytes));
  BOOST_TEST(received->size_bytes == r.bytes.size());
  BOOST_TEST(received->header.tensors.size() == 16u);
}

BOOST_AUTO_TEST_CASE(a_missing_chunk_is_named) {
  Range r(file_of(toy_tensors(8)), 1000);
  r.messages.erase(r.messages.begin() + 2);
  BOOST_TEST(contains(message_of(r.assemble()), "chunk 2 is missing"));
}

BOOST_AUTO_TEST_CASE(a_range_without_its_last_chunk_is_incomplete) {
  Range r(file_of(toy_tensors(8)), 1000);
  r.messages.pop_back();
  BOOST_TEST(contains(message_of(r.assemble()), "no last chunk"));
}

BOOST_AUTO_TEST_CASE(bytes_that_differ_from_the_job_are_refused) {
  Range r(file_of(toy_tensors(8)), 1000);
  r.job.sha256 = sha256_hex("something else");
  BOOST_TEST(contains(message_of(r.assemble()), "sha256 of the received bytes"));
  Range longer(file_of(toy_tensors(8)), 1000);
  longer.job.size_bytes -= 1;
  BOOST_TEST(contains(message_of(longer.assemble()), "size_bytes"));
}

BOOST_AUTO_TEST_CASE(malformed_chunk_headers_are_refused) {
  Range r(file_of(toy_tensors(8)), 1000);
  r.messages[1].headers.clear();
  BOOST_TEST(contains(message_of(r.assemble()), "chunk at offset 1"));
}

BOOST_AUTO_TEST_CASE(a_bad_safetensors_header_stops_at_once) {
  std::string file = file_of(toy_tensors(8));
  file[10] = '[';  // "__metadata__" becomes "[_metadata__", a tensor without a dtype
  Range r(file, 1000);
  BOOST_TEST(contains(message_of(r.assemble()), "tensor '[_metadata__': dtype is required"));
}

BOOST_AUTO_TEST_CASE(a_file_ending_inside_its_header_is_truncated) {
  std::string file = file_of(toy_tensors(8)).substr(0, 100);
  Range r(file, 30);
  BOOST_TEST(contains(message_of(r.assemble()), "ends inside its header"));
}

BOOST_AUTO_TEST_SUITE_END()
