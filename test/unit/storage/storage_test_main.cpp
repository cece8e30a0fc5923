// Test runner for storage_test. The crash tests re-execute this binary as a child that writes
// and then SIGKILLs itself (see crash_test.cpp); fork() alone would leave the child with
// RocksDB's thread pools and locks in whatever state the parent's threads had them.
#define BOOST_TEST_MODULE storage
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include <string_view>

#include "storage_test_util.hpp"

int main(int argc, char* argv[]) {
  namespace t = loraplane::storage::test;
  if (argc >= 2 && std::string_view(argv[1]) == t::kCrashChildFlag)
    return t::run_crash_child(argc, argv);
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
