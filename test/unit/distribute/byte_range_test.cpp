// Range header parsing: the three single-range forms, clamping, unsatisfiable ranges and the
// headers that are ignored (whole blob served).
#include "workers/distribute/byte_range.hpp"

#include <boost/test/unit_test.hpp>

using namespace loraplane::distribute;

namespace {

void check(const RangeRequest& r, RangeKind kind, std::uint64_t offset, std::uint64_t length) {
  BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(kind));
  BOOST_TEST(r.range.offset == offset);
  BOOST_TEST(r.range.length == length);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(byte_range)

BOOST_AUTO_TEST_CASE(first_last_open_and_suffix_ranges) {
  check(parse_range("bytes=0-9", 100), RangeKind::partial, 0, 10);
  check(parse_range("bytes=90-", 100), RangeKind::partial, 90, 10);
  check(parse_range("bytes=-5", 100), RangeKind::partial, 95, 5);
  check(parse_range(" Bytes=10-19 ", 100), RangeKind::partial, 10, 10);
  check(parse_range("bytes=99-99", 100), RangeKind::partial, 99, 1);
}

BOOST_AUTO_TEST_CASE(ranges_past_the_end_are_clamped) {
  check(parse_range("bytes=50-1000", 100), RangeKind::partial, 50, 50);
  check(parse_range("bytes=-1000", 100), RangeKind::partial, 0, 100);
}

BOOST_AUTO_TEST_CASE(unsatisfiable_ranges) {
  check(parse_range("bytes=100-", 100), RangeKind::unsatisfiable, 0, 0);
  check(parse_range("bytes=100-200", 100), RangeKind::unsatisfiable, 0, 0);
  check(parse_range("bytes=-0", 100), RangeKind::unsatisfiable, 0, 0);
  check(parse_range("bytes=0-", 0), RangeKind::unsatisfiable, 0, 0);
  BOOST_TEST(content_range(parse_range("bytes=100-", 100), 100) == "bytes */100");
}

BOOST_AUTO_TEST_CASE(unusable_headers_mean_the_whole_blob) {
  for (const char* header :
       {"", "items=0-1", "bytes=", "bytes=5", "bytes=a-b", "bytes=9-3", "bytes=0-1,5-6",
        "bytes=--1", "bytes=+1-2", "bytes=99999999999999999999999-"}) {
    BOOST_TEST_CONTEXT(header) { check(parse_range(header, 100), RangeKind::whole, 0, 100); }
  }
}

BOOST_AUTO_TEST_CASE(content_range_of_a_partial_answer) {
  BOOST_TEST(content_range(parse_range("bytes=10-19", 100), 100) == "bytes 10-19/100");
  BOOST_TEST(content_range(parse_range("bytes=-1", 100), 100) == "bytes 99-99/100");
}

BOOST_AUTO_TEST_SUITE_END()
