// Streaming blob writer: one chunk of buffer whatever the blob size (see blob_writer_impl.hpp).
#include "storage/blob_writer_impl.hpp"

#include <algorithm>

#include "storage/blob_store_impl.hpp"

namespace loraplane::storage {

BlobWriterImpl::BlobWriterImpl(BlobStoreImpl& store, std::string sha, std::uint64_t size,
                               std::uint32_t chunk_size, Mode mode)
    : store_(store), sha_(std::move(sha)), size_(size), chunk_size_(chunk_size), mode_(mode) {}

BlobWriterImpl::~BlobWriterImpl() { abort(); }

Status BlobWriterImpl::append(std::string_view bytes) {
  if (finished_) return make_error(Errc::invalid_argument, "blob writer already finished");
  if (bytes.size() > size_ - received_) {
    return fail(make_error(Errc::corrupt, "blob " + sha_ + " is longer than its declared " +
                                              std::to_string(size_) + " bytes"));
  }
  hasher_.update(bytes);
  received_ += bytes.size();
  if (mode_ == Mode::shared) return {};

  while (!bytes.empty()) {
    if (buffer_.empty() && bytes.size() >= chunk_size_) {
      // A whole chunk in the caller's bytes: write it without copying into the buffer.
      if (auto s = write_chunk(bytes.substr(0, chunk_size_)); !s) return fail(s.error());
      bytes.remove_prefix(chunk_size_);
      continue;
    }
    if (buffer_.capacity() == 0)
      buffer_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, size_)));
    std::size_t n = std::min<std::size_t>(chunk_size_ - buffer_.size(), bytes.size());
    buffer_.append(bytes.substr(0, n));
    bytes.remove_prefix(n);
    if (buffer_.size() == chunk_size_) {
      if (auto s = write_chunk(buffer_); !s) return fail(s.error());
      buffer_.clear();
    }
  }
  return {};
}

Result<BlobInfo> BlobWriterImpl::commit() {
  if (finished_) return make_error(Errc::invalid_argument, "blob writer already finished");
  if (received_ != size_) {
    return fail(make_error(Errc::corrupt, "blob " + sha_ + " declared " + std::to_string(size_) +
                                              " bytes but received " + std::to_string(received_)));
  }
  std::string actual = hasher_.finish_hex();
  if (actual != sha_) {
    return fail(make_error(Errc::corrupt, "sha256 mismatch: declared " + sha_ + ", content " +
                                              actual));
  }
  if (mode_ == Mode::shared) {
    finished_ = true;
    return store_.commit_shared(sha_);
  }
  if (!buffer_.empty()) {
    if (auto s = write_chunk(buffer_); !s) return fail(s.error());
  }
  std::string().swap(buffer_);
  auto info = store_.commit_owned(sha_, size_, chunk_size_, next_index_);
  if (!info) return fail(info.error());
  finished_ = true;
  return info;
}

void BlobWriterImpl::abort() {
  if (finished_) return;
  finished_ = true;
  std::string().swap(buffer_);
  if (mode_ == Mode::owner) {
    store_.abort_owned(sha_);
  } else {
    store_.release_shared(sha_);
  }
}

Status BlobWriterImpl::write_chunk(std::string_view bytes) {
  auto s = store_.put_chunk(sha_, next_index_, bytes);
  if (s) ++next_index_;
  return s;
}

Error BlobWriterImpl::fail(Error error) {
  abort();
  return error;
}

}  // namespace loraplane::storage
