#define BOOST_TEST_MODULE distribute
#include <boost/test/unit_test.hpp>
