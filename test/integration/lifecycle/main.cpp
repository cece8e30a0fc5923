// lifecycle_integration_test: the adapter lifecycle end to end on the real broker named by
// LORAPLANE_KAFKA, with `loraplane gateway` and `loraplane worker --role validate|distribute` as
// separate processes, each deployment under its own topic prefix. Skipped when unset.
#define BOOST_TEST_MODULE lifecycle_integration
#include <boost/test/unit_test.hpp>
