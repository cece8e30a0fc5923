// Boost.Test entry of the engine simulator suite.
#define BOOST_TEST_MODULE sim_engine
#include <boost/test/unit_test.hpp>
