// Private to storage/: the RocksDB handles the blob store works on and the mapping of RocksDB
// statuses to Errc. Included only by *_impl.cpp files, so rocksdb/*.h stays out of every
// public header.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/slice.h>
#include <rocksdb/write_batch.h>

#include <string>
#include <string_view>

#include "common/result.hpp"

namespace loraplane::storage {

struct BlobFamilies {
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyHandle* chunks = nullptr;     // head key + sha/u32be -> bytes
  rocksdb::ColumnFamilyHandle* manifests = nullptr;  // sha -> Manifest
  rocksdb::ColumnFamilyHandle* refs = nullptr;       // sha/owner -> ""
  rocksdb::ColumnFamilyHandle* pending = nullptr;    // sha -> begin time, while writing
};

inline rocksdb::Slice to_slice(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view to_view(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

inline rocksdb::WriteOptions synced_write() {
  rocksdb::WriteOptions w;
  w.sync = true;
  return w;
}

inline Error to_error(const rocksdb::Status& s, std::string_view what) {
  Errc code = Errc::internal;
  if (s.IsNotFound()) {
    code = Errc::not_found;
  } else if (s.IsCorruption()) {
    code = Errc::corrupt;
  } else if (s.IsIOError()) {
    code = Errc::io;
  } else if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut() || s.IsIncomplete()) {
    code = Errc::unavailable;
  } else if (s.IsInvalidArgument()) {
    code = Errc::invalid_argument;
  }
  return make_error(code, std::string(what) + ": " + s.ToString());
}

}  // namespace loraplane::storage
