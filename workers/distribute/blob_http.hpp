// GET/HEAD /internal/v1/blobs/{sha256}: the storage node's blob endpoint that agents fetch
// adapters from. Streams the bytes one blob-store piece (≤ one chunk) at a time, reads them on
// a small thread pool, supports one byte range, and bounds the responses in progress.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>

#include "common/http.hpp"
#include "storage/blob_store.hpp"
#include "workers/distribute/blocking.hpp"

namespace loraplane::distribute {

inline constexpr std::string_view kBlobRoute = "/internal/v1/blobs/{sha256}";

struct BlobServiceOptions {
  std::size_t max_active_responses = 16;   // beyond: 503 + Retry-After
  std::chrono::seconds write_timeout{60};  // per piece written to the client
};

// Shared by the route handlers and the worker. The worker closes the gate before the store
// goes away; a request arriving later answers 503 without touching the store or the pool.
struct BlobService {
  BlobService(storage::BlobStore& s, asio::thread_pool& p, BlobServiceOptions o)
      : store(s), pool(p), options(o) {}
  storage::BlobStore& store;
  asio::thread_pool& pool;
  BlobServiceOptions options;
  BlockingGate gate;
  std::atomic<std::size_t> active{0};
};

void add_blob_routes(http::Router& router, std::shared_ptr<BlobService> service);

}  // namespace loraplane::distribute
