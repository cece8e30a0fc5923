// Blob store housekeeping: crash recovery at open, garbage collection of unreferenced blobs,
// the orphan-chunk sweep both use, and the diagnostic scan (see blob_store_impl.hpp).
#include <spdlog/spdlog.h>

#include "common/sha256.hpp"
#include "storage/blob_store_impl.hpp"

namespace loraplane::storage {
namespace {

using Iter = std::unique_ptr<rocksdb::Iterator>;

}  // namespace

Status BlobStoreImpl::recover() {
  auto unfinished = remove_unfinished_writes();
  if (!unfinished) return unfinished.error();
  auto orphans = sweep_orphan_chunks();
  if (!orphans) return orphans.error();
  if (*unfinished + *orphans > 0)
    spdlog::info("storage recovery: removed {} unfinished blob writes, {} orphan chunk sets",
                 *unfinished, *orphans);

  std::uint64_t total = 0;
  Iter it(cf_.db->NewIterator(rocksdb::ReadOptions(), cf_.manifests));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto m = blob_keys::decode_manifest(to_view(it->value()));
    if (!m) return make_error(Errc::corrupt, "undecodable manifest " + it->key().ToString());
    total += m->size;
  }
  if (!it->status().ok()) return to_error(it->status(), "scan manifests");
  total_bytes_ = total;
  return {};
}

// A pending marker without a manifest is a write that never committed (the process died or
// the abort's removal was lost): its chunks go. With a manifest, only the marker is stale.
Result<std::uint64_t> BlobStoreImpl::remove_unfinished_writes() {
  std::uint64_t removed = 0;
  Iter it(cf_.db->NewIterator(rocksdb::ReadOptions(), cf_.pending));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string sha = it->key().ToString();
    Lock lock(mu_);
    if (is_active(sha)) continue;
    auto m = get_manifest(sha);
    if (!m) return m.error();
    rocksdb::WriteBatch batch;
    batch.Delete(cf_.pending, to_slice(sha));
    if (!m->has_value()) {
      batch.DeleteRange(cf_.chunks, to_slice(sha), to_slice(blob_keys::chunk_range_end(sha)));
      ++removed;
    }
    auto s = cf_.db->Write(synced_write(), &batch);
    if (!s.ok()) return to_error(s, "remove unfinished write");
  }
  if (!it->status().ok()) return to_error(it->status(), "scan pending markers");
  return removed;
}

// Chunks whose sha has neither a manifest nor a live writer belong to nothing. Visits one key
// per blob (its head key, an inline empty value) by seeking past each blob's range, so chunk
// values are not loaded; a set of chunks without a head costs one chunk read.
Result<std::uint64_t> BlobStoreImpl::sweep_orphan_chunks() {
  std::uint64_t swept = 0;
  Iter it(cf_.db->NewIterator(rocksdb::ReadOptions(), cf_.chunks));
  it->SeekToFirst();
  while (it->Valid()) {
    const std::string_view key = to_view(it->key());
    const std::string sha(key.substr(0, std::min(key.size(), blob_keys::kShaHexSize)));
    if (!is_sha256_hex(sha)) {  // not ours; a range delete from a short prefix would be wide
      spdlog::warn("storage: unexpected key in blob_chunks: {}", it->key().ToString(true));
      it->Next();
      continue;
    }
    {
      Lock lock(mu_);
      auto m = get_manifest(sha);
      if (!m) return m.error();
      if (!is_active(sha) && !m->has_value()) {
        rocksdb::WriteBatch batch;
        batch.DeleteRange(cf_.chunks, to_slice(sha), to_slice(blob_keys::chunk_range_end(sha)));
        batch.Delete(cf_.pending, to_slice(sha));
        auto s = cf_.db->Write(synced_write(), &batch);
        if (!s.ok()) return to_error(s, "remove orphan chunks");
        ++swept;
      }
    }
    it->Seek(to_slice(blob_keys::chunk_range_end(sha)));
  }
  if (!it->status().ok()) return to_error(it->status(), "scan chunks");
  return swept;
}

namespace {
bool stopped(const std::atomic<bool>* stop) { return stop != nullptr && stop->load(); }
Error gc_stopped() { return make_error(Errc::unavailable, "blob GC stopped (shutting down)"); }
}  // namespace

Result<std::uint64_t> BlobStoreImpl::collect_garbage(std::int64_t min_age_seconds,
                                                     std::atomic<bool>* stop) {
  std::uint64_t deleted = 0;
  if (stopped(stop)) return gc_stopped();
  Iter it(cf_.db->NewIterator(rocksdb::ReadOptions(), cf_.manifests));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (stopped(stop)) return gc_stopped();
    auto m = blob_keys::decode_manifest(to_view(it->value()));
    if (!m || now() - m->created < min_age_seconds) continue;
    bool gone = false;
    if (auto s = delete_unreferenced(it->key().ToString(), min_age_seconds, gone); !s)
      return s.error();
    if (gone) ++deleted;
  }
  if (!it->status().ok()) return to_error(it->status(), "scan manifests");
  auto swept = sweep_orphan_chunks();
  if (!swept) return swept.error();
  if (deleted + *swept > 0)
    spdlog::info("storage gc: deleted {} unreferenced blobs, {} orphan chunk sets", deleted,
                 *swept);
  if (deleted + *swept > 0 || deleted_since_reclaim_.exchange(false)) {
    if (auto s = reclaim_space(stop); !s) {
      deleted_since_reclaim_ = true;  // the next GC tries again
      return s.error();
    }
  }
  return deleted;
}

// Range deletes free disk only when compaction drops the keys they cover. The chunk family's
// SSTs hold only blob indexes (and blobs under min_blob_size), so compacting it is cheap; blob
// files whose chunks are all deleted then go. A blob file that also holds a live chunk (blobs
// written interleaved) stays whole: once such dead bytes make up half of all blob file bytes,
// one more compaction copies the live chunks out (each live byte written once more per at least
// one dead byte freed, so disk use stays under twice the live bytes).
Status BlobStoreImpl::reclaim_space(std::atomic<bool>* stop) {
  rocksdb::CompactRangeOptions o;
  // A stop cuts the compaction short (RocksDB checks the flag as it goes; the store stays
  // consistent, the space is reclaimed by a later GC).
  o.canceled = stop;
  // Automatic compactions go on meanwhile: a blob copied during a long relocation must not
  // wait behind it (its flushes add level-0 files that need compacting).
  o.exclusive_manual_compaction = false;
  o.blob_garbage_collection_policy = rocksdb::BlobGarbageCollectionPolicy::kDisable;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  auto s = cf_.db->CompactRange(o, cf_.chunks, nullptr, nullptr);
  if (stopped(stop)) return gc_stopped();
  if (!s.ok()) return to_error(s, "compact blob chunks");

  std::uint64_t file_bytes = 0, dead_bytes = 0;
  if (!cf_.db->GetIntProperty(cf_.chunks, "rocksdb.live-blob-file-size", &file_bytes) ||
      !cf_.db->GetIntProperty(cf_.chunks, "rocksdb.live-blob-file-garbage-size", &dead_bytes))
    return make_error(Errc::internal, "blob file size properties unavailable");
  if (dead_bytes == 0 || dead_bytes * 2 < file_bytes) return {};
  spdlog::info("storage gc: {} of {} blob file bytes are dead; relocating the live chunks",
               dead_bytes, file_bytes);
  o.blob_garbage_collection_policy = rocksdb::BlobGarbageCollectionPolicy::kForce;
  o.blob_garbage_collection_age_cutoff = 1.0;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  s = cf_.db->CompactRange(o, cf_.chunks, nullptr, nullptr);
  if (stopped(stop)) return gc_stopped();
  if (!s.ok()) return to_error(s, "relocate live blob chunks");
  return {};
}

// Re-checks under the lock what the scan saw: a duplicate write may have refreshed the blob,
// pinned it, or a reference may have arrived since.
Status BlobStoreImpl::delete_unreferenced(const std::string& sha, std::int64_t min_age,
                                          bool& deleted) {
  Lock lock(mu_);
  if (is_active(sha)) return {};
  auto m = get_manifest(sha);
  if (!m) return m.error();
  if (!m->has_value() || now() - (*m)->created < min_age) return {};
  auto refs = count_refs(sha);
  if (!refs) return refs.error();
  if (*refs > 0) return {};
  rocksdb::WriteBatch batch;
  delete_blob(batch, sha);
  auto s = cf_.db->Write(synced_write(), &batch);
  if (!s.ok()) return to_error(s, "delete unreferenced blob");
  total_bytes_ -= (*m)->size;
  deleted = true;
  return {};
}

Result<BlobStoreStats> BlobStoreImpl::scan_stats() {
  BlobStoreStats stats;
  auto count = [this](rocksdb::ColumnFamilyHandle* cf, auto&& visit) -> Status {
    Iter it(cf_.db->NewIterator(rocksdb::ReadOptions(), cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) visit(*it);
    if (!it->status().ok()) return to_error(it->status(), "scan");
    return {};
  };
  auto chunks = count(cf_.chunks, [&](rocksdb::Iterator& it) {
    if (it.key().size() != blob_keys::kChunkKeySize) return;  // head key
    ++stats.chunk_keys;
    stats.chunk_bytes += it.value().size();
  });
  if (!chunks) return chunks.error();
  for (auto [cf, n] : {std::pair{cf_.manifests, &stats.blobs},
                       std::pair{cf_.pending, &stats.pending_writes},
                       std::pair{cf_.refs, &stats.refs}}) {
    auto s = count(cf, [n](rocksdb::Iterator&) { ++*n; });
    if (!s) return s.error();
  }
  return stats;
}

}  // namespace loraplane::storage
