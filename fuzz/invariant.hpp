// The fuzz targets' way of reporting a broken invariant: a message on stderr, then abort() so
// that libFuzzer records the input as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace loraplane::fuzz {

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

}  // namespace loraplane::fuzz
