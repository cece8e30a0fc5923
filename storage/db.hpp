// The node's RocksDB: one database per data dir, with column families for blob chunks, blob
// manifests and references, and metadata (tenants, api keys, adapters, consumer checkpoints).
// rocksdb/*.h appears only in *_impl.cpp files.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "storage/blob_store.hpp"

namespace loraplane::storage {

enum class Table { tenants, api_keys, adapters, meta };

struct KeyValue {
  std::string key;
  std::string value;
};

// A write of several metadata records that lands all or nothing.
struct MetaBatch {
  struct Op {
    Table table;
    std::string key;
    std::optional<std::string> value;  // nullopt = delete
  };
  std::vector<Op> ops;
  void put(Table t, std::string k, std::string v) { ops.push_back({t, std::move(k), std::move(v)}); }
  void del(Table t, std::string k) { ops.push_back({t, std::move(k), std::nullopt}); }
};

struct DbOptions {
  BlobStoreOptions blobs;
};

class Db {
 public:
  virtual ~Db() = default;
  // Opens (creating if needed) the database under `dir`. Runs crash recovery: chunks of blobs
  // whose write never committed are removed.
  static Result<std::unique_ptr<Db>> open(const std::string& dir);
  static Result<std::unique_ptr<Db>> open(const std::string& dir, const DbOptions& options);

  virtual Result<std::optional<std::string>> get(Table table, std::string_view key) = 0;
  virtual Status put(Table table, std::string_view key, std::string_view value) = 0;
  virtual Status del(Table table, std::string_view key) = 0;
  virtual Status write(const MetaBatch& batch) = 0;  // atomic, synced
  // Keys in order starting at `prefix`; `visit` returns false to stop.
  virtual Status scan(Table table, std::string_view prefix,
                      const std::function<bool(std::string_view key, std::string_view value)>& visit) = 0;

  // Blob writers and reads in progress must finish before the Db is destroyed.
  virtual BlobStore& blobs() = 0;
};

}  // namespace loraplane::storage
