// `loraplane import --manifest FILE.(jsonl|csv) --api URL --key KEY`: batch import with bounded
// concurrency, live progress, a summary, and resumption (an adapter already ready with the same
// bytes, or the same repo and revision, is skipped).
#pragma once

#include <chrono>
#include <string>

namespace loraplane::cmd::import {

struct Options {
  std::string manifest;
  std::string api = "http://127.0.0.1:8080";
  std::string key;  // else $LORAPLANE_API_KEY
  int concurrency = 4;
  bool json = false;       // the summary as one JSON document on stdout
  bool wait = true;        // wait for each adapter to be ready or failed
  std::chrono::seconds timeout{900};  // per adapter, upload to ready
  // While waiting, a gateway that answers nothing (refused, reset, timed out) or only 429/5xx
  // (restarting, overloaded, behind a proxy that lost it) for this long ends the wait: the
  // adapter is reported failed with the last error.
  std::chrono::seconds unreachable_timeout{30};
};

// Exit code: 0 when every adapter is ready (or skipped), 1 when any failed, 2 on a usage error
// (bad manifest, no key, gateway unreachable at the start).
int run(const Options& options);

}  // namespace loraplane::cmd::import
