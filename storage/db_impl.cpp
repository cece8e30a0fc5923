// Db on RocksDB: opens the column families, runs blob recovery, and serves the metadata tables
// (tenants, api_keys, adapters, meta). Every metadata write is synced.
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <array>
#include <filesystem>
#include <system_error>

#include "storage/blob_store_impl.hpp"
#include "storage/db.hpp"
#include "storage/rocks_impl.hpp"

namespace loraplane::storage {
namespace {

enum Family : std::size_t {
  kDefault, kBlobChunks, kBlobManifests, kBlobRefs, kBlobPending,
  kTenants, kApiKeys, kAdapters, kMeta, kFamilyCount
};
constexpr std::array<const char*, kFamilyCount> kFamilyNames = {
    "default", "blob_chunks", "blob_manifests", "blob_refs", "blob_pending",
    "tenants", "api_keys", "adapters", "meta"};

constexpr std::uint64_t kMiB = 1u << 20;

Family family_of(Table t) {
  switch (t) {
    case Table::tenants: return kTenants;
    case Table::api_keys: return kApiKeys;
    case Table::adapters: return kAdapters;
    case Table::meta: return kMeta;
  }
  return kMeta;
}

rocksdb::ColumnFamilyOptions metadata_options() {
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = 8 * kMiB;
  return o;
}

// Chunk values (up to 16 MiB) live in BlobDB blob files, so compaction moves only small index
// entries instead of rewriting chunk bytes. Two 64 MiB memtables bound the memory a streaming
// write can pin before flushes catch up.
//
// Background blob GC is off. Chunk keys start with a random sha256, so once the family holds an
// SST spanning the key space (after the first reclaim_space()), every L0 compaction overlaps it
// and, with GC on, relocates every live chunk in the oldest quarter of the blob files: measured
// with test/bench/blob_store_bench, 1.5x the written bytes after 3 GB and rising with the store's
// size. The store writes one blob at a time and flushes at each commit, so a blob's chunks
// normally fill blob files of their own that deleting it frees whole; reclaim_space() relocates
// live chunks only when dead bytes make up half the blob files.
rocksdb::ColumnFamilyOptions chunk_options() {
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = 64 * kMiB;
  o.max_write_buffer_number = 2;
  o.enable_blob_files = true;
  o.min_blob_size = 64 * 1024;
  o.blob_file_size = 256 * kMiB;
  o.blob_compression_type = rocksdb::kNoCompression;  // adapter weights do not compress
  o.enable_blob_garbage_collection = false;
  return o;
}

rocksdb::DBOptions db_options() {
  rocksdb::DBOptions o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  // The metadata families flush rarely and would pin every WAL file (blob chunks skip the WAL,
  // but markers, manifests and metadata do not); a total WAL bound makes RocksDB flush them so
  // old WAL files can go.
  o.max_total_wal_size = 256 * kMiB;
  o.keep_log_file_num = 4;
  // The blob GC's manual compaction (reclaim_space) can hold a compaction thread for minutes;
  // with RocksDB's default of 2 jobs (one flush, one compaction) the level-0 files of blobs
  // written meanwhile would pile up uncompacted until writes slow down and stop.
  o.max_background_jobs = 4;
  // A flush writes a memtable's chunks (64 MiB) to a blob file and then fsyncs it. Without this
  // the kernel holds all of it dirty until that fsync, so the disk idles while the copy reads
  // and the commit waits for the whole write; with it writeback starts after every MiB.
  o.bytes_per_sync = 1 * kMiB;
  return o;
}

class DbImpl final : public Db {
 public:
  ~DbImpl() override {
    blobs_.reset();
    if (!db_) return;
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }

  static Result<std::unique_ptr<Db>> open(const std::string& dir, const DbOptions& options);

  Result<std::optional<std::string>> get(Table table, std::string_view key) override {
    rocksdb::PinnableSlice value;
    auto s = db_->Get(rocksdb::ReadOptions(), cf(table), to_slice(key), &value);
    if (s.IsNotFound()) return std::optional<std::string>{};
    if (!s.ok()) return to_error(s, "get");
    return std::optional<std::string>{value.ToString()};
  }

  Status put(Table table, std::string_view key, std::string_view value) override {
    auto s = db_->Put(synced_write(), cf(table), to_slice(key), to_slice(value));
    if (!s.ok()) return to_error(s, "put");
    return {};
  }

  Status del(Table table, std::string_view key) override {
    auto s = db_->Delete(synced_write(), cf(table), to_slice(key));
    if (!s.ok()) return to_error(s, "delete");
    return {};
  }

  Status write(const MetaBatch& batch) override {
    rocksdb::WriteBatch wb;
    for (const auto& op : batch.ops) {
      auto s = op.value ? wb.Put(cf(op.table), op.key, *op.value) : wb.Delete(cf(op.table), op.key);
      if (!s.ok()) return to_error(s, "build batch");
    }
    auto s = db_->Write(synced_write(), &wb);
    if (!s.ok()) return to_error(s, "write batch");
    return {};
  }

  Status scan(Table table, std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& visit) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(table)));
    for (it->Seek(to_slice(prefix)); it->Valid(); it->Next()) {
      auto key = to_view(it->key());
      if (!key.starts_with(prefix)) break;
      if (!visit(key, to_view(it->value()))) break;
    }
    if (!it->status().ok()) return to_error(it->status(), "scan");
    return {};
  }

  BlobStore& blobs() override { return *blobs_; }

 private:
  rocksdb::ColumnFamilyHandle* cf(Table t) const { return handles_[family_of(t)]; }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<BlobStoreImpl> blobs_;
};

Result<std::unique_ptr<Db>> DbImpl::open(const std::string& dir, const DbOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(Errc::io, "create " + dir + ": " + ec.message());

  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (std::size_t i = 0; i < kFamilyCount; ++i) {
    families.emplace_back(kFamilyNames[i], i == kBlobChunks ? chunk_options() : metadata_options());
  }
  auto db = std::make_unique<DbImpl>();
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_options(), dir, families, &db->handles_, &raw);
  if (!s.ok()) return to_error(s, "open " + dir);
  db->db_.reset(raw);

  BlobFamilies blob_families{raw, db->handles_[kBlobChunks], db->handles_[kBlobManifests],
                             db->handles_[kBlobRefs], db->handles_[kBlobPending]};
  db->blobs_ = std::make_unique<BlobStoreImpl>(blob_families, options.blobs);
  if (auto recovered = db->blobs_->recover(); !recovered) return recovered.error();
  return std::unique_ptr<Db>(std::move(db));
}

}  // namespace

Result<std::unique_ptr<Db>> Db::open(const std::string& dir) { return open(dir, DbOptions{}); }

Result<std::unique_ptr<Db>> Db::open(const std::string& dir, const DbOptions& options) {
  return DbImpl::open(dir, options);
}

}  // namespace loraplane::storage
