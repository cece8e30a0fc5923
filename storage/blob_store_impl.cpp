// BlobStore on RocksDB: writes, reads and references (see blob_store_impl.hpp). Recovery and GC
// are in blob_gc_impl.cpp.
#include "storage/blob_store_impl.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "common/unix_time.hpp"
#include "storage/blob_writer_impl.hpp"

namespace loraplane::storage {
namespace {

using blob_keys::Manifest;

std::uint32_t effective_chunk_size(const BlobStoreOptions& o) {
  if (o.allow_tiny_chunks_for_tests) return std::max<std::uint32_t>(o.chunk_size, 1);
  return std::clamp(o.chunk_size, kMinChunkSize, kMaxChunkSize);
}

BlobInfo to_info(std::string sha, const Manifest& m) {
  return BlobInfo{std::move(sha), m.size, m.chunk_size, m.chunk_count};
}

Error bad_sha(std::string_view sha) {
  return make_error(Errc::invalid_argument, "not a sha256 hex digest: '" +
                                                std::string(sha.substr(0, 80)) + "'");
}

// Releases a RocksDB snapshot when a read ends, however it ends.
class SnapshotGuard {
 public:
  explicit SnapshotGuard(rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {}
  ~SnapshotGuard() { db_->ReleaseSnapshot(snapshot_); }
  SnapshotGuard(const SnapshotGuard&) = delete;
  SnapshotGuard& operator=(const SnapshotGuard&) = delete;
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

// The options of a blob read: under one snapshot (a concurrent delete cannot pull chunks from
// under it), without filling the block cache.
rocksdb::ReadOptions blob_reads(const SnapshotGuard& snapshot) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.get();
  ro.fill_cache = false;
  return ro;
}

}  // namespace

BlobStoreImpl::BlobStoreImpl(BlobFamilies families, BlobStoreOptions options)
    : cf_(families), options_(std::move(options)), chunk_size_(effective_chunk_size(options_)) {}

std::int64_t BlobStoreImpl::now() const {
  if (options_.clock) return options_.clock();
  return unix_now_seconds();
}

bool BlobStoreImpl::is_active(const std::string& sha) const { return active_.contains(sha); }

void BlobStoreImpl::release(const std::string& sha, bool owner) {
  auto it = active_.find(sha);
  if (it == active_.end()) return;
  if (owner) {
    it->second.writing = false;
  } else if (it->second.sharers > 0) {
    --it->second.sharers;
  }
  if (!it->second.writing && it->second.sharers == 0) active_.erase(it);
  released_.notify_all();
}

Result<std::optional<Manifest>> BlobStoreImpl::get_manifest(std::string_view sha,
                                                            const rocksdb::ReadOptions& ro) {
  rocksdb::PinnableSlice value;
  auto s = cf_.db->Get(ro, cf_.manifests, to_slice(sha), &value);
  if (s.IsNotFound()) return std::optional<Manifest>{};
  if (!s.ok()) return to_error(s, "read manifest");
  auto m = blob_keys::decode_manifest(to_view(value));
  if (!m) return make_error(Errc::corrupt, "undecodable manifest for blob " + std::string(sha));
  return std::optional<Manifest>{*m};
}

Result<std::unique_ptr<BlobWriter>> BlobStoreImpl::begin_write(std::string_view sha256,
                                                               std::uint64_t size) {
  auto sha = blob_keys::normalize_sha(sha256);
  if (!sha) return bad_sha(sha256);
  if (blob_keys::chunk_count_for(size, chunk_size_) > std::numeric_limits<std::uint32_t>::max())
    return make_error(Errc::limit_exceeded,
                      "blob of " + std::to_string(size) + " bytes has too many chunks");
  return claim_write(*sha, size);
}

Result<std::unique_ptr<BlobWriter>> BlobStoreImpl::claim_write(const std::string& sha,
                                                               std::uint64_t size) {
  auto deadline = std::chrono::steady_clock::now() + options_.same_blob_wait;
  Lock lock(mu_);
  for (;;) {
    auto existing = get_manifest(sha);
    if (!existing) return existing.error();
    if (existing->has_value()) {
      ++active_[sha].sharers;
      return std::unique_ptr<BlobWriter>(std::make_unique<BlobWriterImpl>(
          *this, sha, size, chunk_size_, BlobWriterImpl::Mode::shared));
    }
    auto it = active_.find(sha);
    if (it == active_.end() || !it->second.writing) {
      active_[sha].writing = true;
      break;
    }
    if (released_.wait_until(lock, deadline) == std::cv_status::timeout) {
      it = active_.find(sha);
      if (it != active_.end() && it->second.writing)
        return make_error(Errc::unavailable, "another write of blob " + sha + " is in progress");
    }
  }
  lock.unlock();

  // The marker (and the head key) are durable before any chunk can be, so a crash at any later
  // point leaves either a manifest or a marker telling recovery to remove the chunks.
  rocksdb::WriteBatch batch;
  batch.Put(cf_.pending, to_slice(sha), to_slice(blob_keys::encode_time(now())));
  batch.Put(cf_.chunks, to_slice(blob_keys::head_key(sha)), rocksdb::Slice());
  auto s = cf_.db->Write(synced_write(), &batch);
  if (!s.ok()) {
    lock.lock();
    release(sha, true);
    return to_error(s, "write pending marker");
  }
  return std::unique_ptr<BlobWriter>(std::make_unique<BlobWriterImpl>(
      *this, sha, size, chunk_size_, BlobWriterImpl::Mode::owner));
}

Status BlobStoreImpl::put_chunk(std::string_view sha, std::uint32_t index, std::string_view bytes) {
  // Without the WAL: chunk bytes go to the memtable only, and the flush to blob files writes
  // them once, instead of once more into the WAL first. commit_owned flushes them (synced)
  // before the manifest can exist; a crash before that loses them, and the pending marker,
  // durable since begin_write, makes recovery remove whatever part did reach disk.
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  auto s = cf_.db->Put(wo, cf_.chunks,
                       to_slice(blob_keys::chunk_key(sha, index)), to_slice(bytes));
  if (!s.ok()) return to_error(s, "write chunk");
  return {};
}

Result<BlobInfo> BlobStoreImpl::commit_owned(const std::string& sha, std::uint64_t size,
                                             std::uint32_t chunk_size,
                                             std::uint32_t chunk_count) {
  // Crash safety: the chunks were written without the WAL, so they are durable only once their
  // memtable is flushed: RocksDB fsyncs the blob and SST files of a flush before it records
  // them in the (synced) MANIFEST, and Flush(wait) returns after that. So all chunks are
  // durable before the manifest batch is even written; the batch itself is synced, so once
  // commit() returns the blob survives a crash or power loss. If we crash before the batch is
  // durable, the pending marker is still there and recovery removes the chunks; manifest and
  // marker change in one atomic batch, so no state between.
  rocksdb::FlushOptions fo;
  fo.wait = true;
  fo.allow_write_stall = true;  // flush now even if the other memtable is still being flushed
  auto flushed = cf_.db->Flush(fo, cf_.chunks);
  if (!flushed.ok()) return to_error(flushed, "flush chunks before commit");

  Manifest m{size, chunk_size, chunk_count, now()};
  rocksdb::WriteBatch batch;
  batch.Put(cf_.manifests, to_slice(sha), to_slice(blob_keys::encode_manifest(m)));
  batch.Delete(cf_.pending, to_slice(sha));
  Lock lock(mu_);
  auto s = cf_.db->Write(synced_write(), &batch);
  if (!s.ok()) return to_error(s, "commit manifest");
  total_bytes_ += size;
  release(sha, true);
  return to_info(sha, m);
}

void BlobStoreImpl::abort_owned(const std::string& sha) {
  // No manifest can exist while we hold the write slot, so these chunks are ours alone. Not
  // synced: if the removal is lost in a crash, the marker survives and recovery repeats it.
  rocksdb::WriteBatch batch;
  batch.DeleteRange(cf_.chunks, to_slice(sha), to_slice(blob_keys::chunk_range_end(sha)));
  batch.Delete(cf_.pending, to_slice(sha));
  auto s = cf_.db->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok())
    spdlog::warn("storage: removing aborted write of blob {} failed ({}); GC will retry", sha,
                 s.ToString());
  Lock lock(mu_);
  release(sha, true);
}

Result<BlobInfo> BlobStoreImpl::commit_shared(const std::string& sha) {
  Lock lock(mu_);
  auto m = get_manifest(sha);
  Result<BlobInfo> out = make_error(Errc::internal, "pinned blob " + sha + " vanished");
  if (!m) {
    out = m.error();
  } else if (m->has_value()) {
    Manifest touched = **m;
    touched.created = std::max(touched.created, now());
    auto s = cf_.db->Put(synced_write(), cf_.manifests, to_slice(sha),
                         to_slice(blob_keys::encode_manifest(touched)));
    out = s.ok() ? Result<BlobInfo>(to_info(sha, touched)) : to_error(s, "refresh manifest");
  }
  release(sha, false);
  return out;
}

void BlobStoreImpl::release_shared(const std::string& sha) {
  Lock lock(mu_);
  release(sha, false);
}

std::optional<BlobInfo> BlobStoreImpl::stat(std::string_view sha256) {
  auto sha = blob_keys::normalize_sha(sha256);
  if (!sha) return std::nullopt;
  auto m = get_manifest(*sha);
  if (!m || !m->has_value()) return std::nullopt;
  return to_info(*sha, **m);
}

namespace {

struct OwnedBytes final : PinnedBytes {
  std::string data;
  std::string_view bytes() const override { return data; }
};

// A chunk value as RocksDB returned it (for BlobDB values: the buffer it read the blob into).
struct PinnedChunk final : PinnedBytes {
  rocksdb::PinnableSlice slice;
  std::string_view piece;
  std::string_view bytes() const override { return piece; }
};

}  // namespace

Result<std::unique_ptr<PinnedBytes>> BlobStore::read_pinned(std::string_view sha256,
                                                            std::uint64_t offset,
                                                            std::uint64_t length) {
  auto out = std::make_unique<OwnedBytes>();
  auto st = read(sha256, offset, length, [&out](std::string_view piece) {
    out->data.append(piece);
    return Status{};
  });
  if (!st) return st.error();
  return std::unique_ptr<PinnedBytes>(std::move(out));
}

Result<BlobStoreImpl::ReadPlan> BlobStoreImpl::plan_read(std::string_view sha256,
                                                          std::uint64_t offset,
                                                          std::uint64_t length,
                                                          const rocksdb::ReadOptions& ro) {
  auto sha = blob_keys::normalize_sha(sha256);
  if (!sha) return bad_sha(sha256);
  auto found = get_manifest(*sha, ro);
  if (!found) return found.error();
  if (!found->has_value()) return make_error(Errc::not_found, "no blob " + *sha);
  const Manifest& m = **found;
  if (length == npos && offset <= m.size) length = m.size - offset;
  if (offset > m.size || length > m.size - offset) {
    return make_error(Errc::invalid_argument, "range " + std::to_string(offset) + "+" +
                                                  std::to_string(length) + " outside blob of " +
                                                  std::to_string(m.size) + " bytes");
  }
  return ReadPlan{std::move(*sha), m, offset, length};
}

// Chunk values are not checked against RocksDB's per-record checksum here: that check was a
// quarter of the storage node's CPU samples while serving a blob (turning it off about halved
// the node's CPU per blob), and the one reader of this path checks more than it does: the
// agent verifies the sha256 of the whole blob before using it, and on a mismatch tries the
// next storage node. The manifest read keeps the check.
Status BlobStoreImpl::get_chunk(const ReadPlan& plan, std::uint32_t index,
                                const rocksdb::ReadOptions& ro, rocksdb::PinnableSlice* chunk) {
  rocksdb::ReadOptions chunk_ro = ro;
  chunk_ro.verify_checksums = false;
  const std::uint64_t chunk_start = std::uint64_t{index} * plan.manifest.chunk_size;
  const std::uint64_t chunk_len =
      std::min<std::uint64_t>(plan.manifest.chunk_size, plan.manifest.size - chunk_start);
  auto s =
      cf_.db->Get(chunk_ro, cf_.chunks, to_slice(blob_keys::chunk_key(plan.sha, index)), chunk);
  if (s.IsNotFound() || (s.ok() && chunk->size() != chunk_len))
    return make_error(Errc::corrupt, "blob " + plan.sha + " chunk " + std::to_string(index) +
                                         " is missing or has the wrong size");
  if (!s.ok()) return to_error(s, "read chunk");
  return {};
}

Status BlobStoreImpl::read(std::string_view sha256, std::uint64_t offset, std::uint64_t length,
                           const std::function<Status(std::string_view piece)>& sink) {
  SnapshotGuard snapshot(cf_.db);  // one snapshot for the whole read
  const auto ro = blob_reads(snapshot);
  auto plan = plan_read(sha256, offset, length, ro);
  if (!plan) return plan.error();
  const std::uint64_t chunk_size = plan->manifest.chunk_size;
  const std::uint64_t end = plan->offset + plan->length;
  for (std::uint64_t pos = plan->offset; pos < end;) {
    const auto index = static_cast<std::uint32_t>(pos / chunk_size);
    const std::uint64_t chunk_start = std::uint64_t{index} * chunk_size;
    rocksdb::PinnableSlice chunk;
    if (auto got = get_chunk(*plan, index, ro, &chunk); !got) return got;
    const std::uint64_t piece_end = std::min<std::uint64_t>(end, chunk_start + chunk.size());
    auto piece = to_view(chunk).substr(pos - chunk_start, piece_end - pos);
    if (auto sent = sink(piece); !sent) return sent;
    pos = piece_end;
  }
  return {};
}

Result<std::unique_ptr<PinnedBytes>> BlobStoreImpl::read_pinned(std::string_view sha256,
                                                                std::uint64_t offset,
                                                                std::uint64_t length) {
  SnapshotGuard snapshot(cf_.db);
  const auto ro = blob_reads(snapshot);
  auto plan = plan_read(sha256, offset, length, ro);
  if (!plan) return plan.error();
  const std::uint64_t chunk_size = plan->manifest.chunk_size;
  const auto index = static_cast<std::uint32_t>(plan->offset / chunk_size);
  const std::uint64_t chunk_start = std::uint64_t{index} * chunk_size;
  if (plan->length > 0 && (plan->offset + plan->length - 1) / chunk_size != index)
    return make_error(Errc::invalid_argument, "range " + std::to_string(plan->offset) + "+" +
                                                  std::to_string(plan->length) +
                                                  " crosses a chunk boundary");
  auto out = std::make_unique<PinnedChunk>();
  if (plan->length == 0) return std::unique_ptr<PinnedBytes>(std::move(out));
  // The pinned value owns its buffer (or pins the memtable / block it lies in): it outlives
  // the snapshot.
  if (auto got = get_chunk(*plan, index, ro, &out->slice); !got) return got.error();
  out->piece = to_view(out->slice).substr(plan->offset - chunk_start, plan->length);
  return std::unique_ptr<PinnedBytes>(std::move(out));
}

Status BlobStoreImpl::add_ref(std::string_view sha256, std::string_view owner) {
  auto sha = blob_keys::normalize_sha(sha256);
  if (!sha) return bad_sha(sha256);
  if (owner.empty()) return make_error(Errc::invalid_argument, "empty reference owner");
  Lock lock(mu_);
  auto m = get_manifest(*sha);
  if (!m) return m.error();
  if (!m->has_value()) return make_error(Errc::not_found, "no blob " + *sha);
  auto s = cf_.db->Put(synced_write(), cf_.refs, to_slice(blob_keys::ref_key(*sha, owner)),
                       rocksdb::Slice());
  if (!s.ok()) return to_error(s, "add reference");
  return {};
}

Status BlobStoreImpl::remove_ref(std::string_view sha256, std::string_view owner) {
  auto sha = blob_keys::normalize_sha(sha256);
  if (!sha) return bad_sha(sha256);
  const std::string key = blob_keys::ref_key(*sha, owner);
  Lock lock(mu_);
  rocksdb::PinnableSlice ignored;
  auto s = cf_.db->Get(rocksdb::ReadOptions(), cf_.refs, to_slice(key), &ignored);
  if (s.IsNotFound()) return {};  // already removed: only a real removal may delete the blob
  if (!s.ok()) return to_error(s, "read reference");
  auto refs = count_refs(*sha);
  if (!refs) return refs.error();
  auto m = get_manifest(*sha);
  if (!m) return m.error();

  rocksdb::WriteBatch batch;
  batch.Delete(cf_.refs, to_slice(key));
  // A pinned blob (a duplicate write in flight) stays; GC reclaims it if nobody refers to it.
  const bool last = *refs <= 1 && m->has_value() && !is_active(*sha);
  if (last) delete_blob(batch, *sha);
  s = cf_.db->Write(synced_write(), &batch);
  if (!s.ok()) return to_error(s, "remove reference");
  if (last) {
    total_bytes_ -= (*m)->size;
    deleted_since_reclaim_ = true;
  }
  return {};
}

std::uint64_t BlobStoreImpl::ref_count(std::string_view sha256) {
  auto sha = blob_keys::normalize_sha(sha256);
  if (!sha) return 0;
  auto n = count_refs(*sha);
  return n ? *n : 0;
}

Result<std::uint64_t> BlobStoreImpl::count_refs(std::string_view sha) {
  const std::string prefix = blob_keys::ref_prefix(sha);
  const std::string upper = std::string(sha) + static_cast<char>('/' + 1);
  rocksdb::Slice upper_slice = to_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(cf_.db->NewIterator(ro, cf_.refs));
  std::uint64_t n = 0;
  for (it->Seek(to_slice(prefix)); it->Valid(); it->Next()) ++n;
  if (!it->status().ok()) return to_error(it->status(), "count references");
  return n;
}

void BlobStoreImpl::delete_blob(rocksdb::WriteBatch& batch, std::string_view sha) {
  // One batch: manifest and chunks go together, so no manifest ever points at missing chunks.
  batch.Delete(cf_.manifests, to_slice(sha));
  batch.DeleteRange(cf_.chunks, to_slice(sha), to_slice(blob_keys::chunk_range_end(sha)));
  batch.Delete(cf_.pending, to_slice(sha));
}

}  // namespace loraplane::storage
