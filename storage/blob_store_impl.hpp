// Private to storage/: the RocksDB-backed BlobStore. Owns the per-sha write/pin registry that
// keeps concurrent writers, reference removal and GC of the same blob from stepping on each
// other. The writer lives in blob_writer_impl.cpp; recovery and GC in blob_gc_impl.cpp.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>

#include "storage/blob_keys.hpp"
#include "storage/blob_store.hpp"
#include "storage/rocks_impl.hpp"

namespace loraplane::storage {

class BlobStoreImpl final : public BlobStore {
 public:
  BlobStoreImpl(BlobFamilies families, BlobStoreOptions options);

  // At open, before any other call: removes unfinished writes and orphan chunks, and sums the
  // committed sizes for total_bytes().
  Status recover();

  Result<std::unique_ptr<BlobWriter>> begin_write(std::string_view sha256,
                                                  std::uint64_t size) override;
  std::optional<BlobInfo> stat(std::string_view sha256) override;
  Status read(std::string_view sha256, std::uint64_t offset, std::uint64_t length,
              const std::function<Status(std::string_view piece)>& sink) override;
  Result<std::unique_ptr<PinnedBytes>> read_pinned(std::string_view sha256, std::uint64_t offset,
                                                   std::uint64_t length) override;
  Status add_ref(std::string_view sha256, std::string_view owner) override;
  Status remove_ref(std::string_view sha256, std::string_view owner) override;
  std::uint64_t ref_count(std::string_view sha256) override;
  using BlobStore::collect_garbage;
  Result<std::uint64_t> collect_garbage(std::int64_t min_age_seconds,
                                        std::atomic<bool>* stop) override;
  std::uint64_t total_bytes() override { return total_bytes_.load(); }
  Result<BlobStoreStats> scan_stats() override;

  // For BlobWriterImpl. An owning writer holds the sha's exclusive write slot and writes the
  // chunks; a sharing writer (the blob already existed) only pins the blob so that it is not
  // deleted before the duplicate write commits.
  Status put_chunk(std::string_view sha, std::uint32_t index, std::string_view bytes);
  // Makes the owned write visible and releases the slot; on error the slot is kept so the
  // writer can abort.
  Result<BlobInfo> commit_owned(const std::string& sha, std::uint64_t size,
                                std::uint32_t chunk_size, std::uint32_t chunk_count);
  void abort_owned(const std::string& sha);
  // Refreshes the existing manifest's created time (GC grace for the new owner's add_ref) and
  // releases the pin, success or not.
  Result<BlobInfo> commit_shared(const std::string& sha);
  void release_shared(const std::string& sha);

 private:
  struct ShaState {
    bool writing = false;       // an owning writer holds the slot
    std::uint32_t sharers = 0;  // sharing writers pin the committed blob
  };
  using Lock = std::unique_lock<std::mutex>;

  std::int64_t now() const;
  bool is_active(const std::string& sha) const;  // needs mu_
  void release(const std::string& sha, bool owner);  // needs mu_
  struct ReadPlan {
    std::string sha;  // normalized
    blob_keys::Manifest manifest;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;  // npos resolved
  };
  Result<ReadPlan> plan_read(std::string_view sha256, std::uint64_t offset, std::uint64_t length,
                             const rocksdb::ReadOptions& ro);
  Status get_chunk(const ReadPlan& plan, std::uint32_t index, const rocksdb::ReadOptions& ro,
                   rocksdb::PinnableSlice* chunk);
  Result<std::optional<blob_keys::Manifest>> get_manifest(std::string_view sha,
                                                          const rocksdb::ReadOptions& ro = {});
  Result<std::uint64_t> count_refs(std::string_view sha);
  // Deletes manifest and chunks of a blob in `batch` (one atomic, synced write by the caller).
  void delete_blob(rocksdb::WriteBatch& batch, std::string_view sha);
  Status delete_unreferenced(const std::string& sha, std::int64_t min_age, bool& deleted);
  Result<std::uint64_t> remove_unfinished_writes();
  Result<std::uint64_t> sweep_orphan_chunks();
  Status reclaim_space(std::atomic<bool>* stop);
  Result<std::unique_ptr<BlobWriter>> claim_write(const std::string& sha, std::uint64_t size);

  BlobFamilies cf_;
  BlobStoreOptions options_;
  std::uint32_t chunk_size_;
  std::atomic<std::uint64_t> total_bytes_{0};
  // remove_ref deleted a blob since the last GC. True at open: a reclaim cut short by a stop
  // (or a crash) is redone by the first GC.
  std::atomic<bool> deleted_since_reclaim_{true};

  // Guards active_ and serialises every manifest/ref mutation, so "no refs and not pinned"
  // checks and the deletes they lead to are one step. Chunk writes and reads run unlocked.
  std::mutex mu_;
  std::condition_variable released_;
  std::map<std::string, ShaState, std::less<>> active_;
};

}  // namespace loraplane::storage
