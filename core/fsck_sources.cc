#include "core/fsck_sources.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <map>

#include "core/content_store.h"
#include "core/store.h"

namespace acidfs::fsck {
namespace {

class OpenStore final : public Source {
 public:
  explicit OpenStore(Store& store) : store_(store) {}
  std::unique_ptr<MetaCursor> scan(Column c) override { return store_.engine().scan(c); }
  Result<std::optional<std::string>> get(Column c, std::string_view key) override { return store_.engine().get(c, key); }
  const Id128& emptyBlobId() const override { return store_.content().emptyBlobId(); }
  uint32_t chunkSize() const override { return store_.content().chunkSize(); }
  Status check(const Id128& id, const BlobRecord& r) const override { return store_.content().check(id, r); }
  Status check(const Id128& id, const PageRecord& r) const override { return store_.content().check(id, r); }
  Status check(const Id128& id, const ChunkRecord& r) const override { return store_.content().check(id, r); }
  Status verifyChunk(const Id128& id, const ChunkRecord& r) override { return store_.content().verifyChunk(id, r); }
  Status verifyChecksums() override { return store_.rocksDb() ? store_.rocksDb()->verifyChecksums() : Status::OK(); }
  RadosChunkStore* radosChunks() override { return store_.radosChunks(); }

 private:
  Store& store_;
};

// The store's files, read-only: the metadata through MetaDbReader, chunk
// bytes by pread of segment files opened O_RDONLY. There is no ContentStore
// here, because there is no SegmentStore: opening one sweeps and starts a new
// segment. The record rules are ContentStore's own (checkRecord).
class StoreFiles final : public Source {
 public:
  StoreFiles(std::unique_ptr<MetaDbReader> db, std::string segmentDir, uint32_t chunkSize, HashFunction hash)
      : db_(std::move(db)), segmentDir_(std::move(segmentDir)), chunkSize_(chunkSize), hash_(std::move(hash)),
        emptyBlobId_(ContentStore::computeEmptyBlobId(hash_)) {}

  std::unique_ptr<MetaCursor> scan(Column c) override { return db_->scan(c); }
  Result<std::optional<std::string>> get(Column c, std::string_view key) override { return db_->get(c, key); }
  const Id128& emptyBlobId() const override { return emptyBlobId_; }
  uint32_t chunkSize() const override { return chunkSize_; }

  Status check(const Id128& id, const BlobRecord& r) const override { return ContentStore::checkRecord(chunkSize_, id, r); }
  Status check(const Id128& id, const PageRecord& r) const override { return ContentStore::checkRecord(chunkSize_, id, r); }
  Status check(const Id128& id, const ChunkRecord& r) const override { return ContentStore::checkRecord(chunkSize_, id, r); }

  Status verifyChunk(const Id128& id, const ChunkRecord& record) override {
    ACIDFS_RETURN_IF_ERROR(check(id, record));
    std::string bytes = record.inlineData;
    if (!record.isInline) {
      ACIDFS_ASSIGN_OR_RETURN(bytes, readExtent(record.segment, record.offset, record.length));
    }
    if (hash_(bytes.data(), bytes.size(), record.head.seed) != id)
      return Status::Error(EIO, "chunk " + id.hex() + " does not match its hash (corrupted on disk)");
    return Status::OK();
  }

  Status verifyChecksums() override { return db_->verifyChecksums(); }

 private:
  // segments/NNNNNNNN.seg (format.h), opened once, read-only; O_NOATIME
  // where the filesystem lets us, so that not even an access time changes.
  Result<std::string> readExtent(uint32_t segment, uint64_t offset, uint32_t length) {
    char name[32];
    snprintf(name, sizeof name, "/%08u.seg", segment);
    const std::string path = segmentDir_ + name;
    auto it = segments_.find(segment);
    if (it == segments_.end()) {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
      if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) return Status::Error(EIO, "segment " + path + " is missing");
      if (fd < 0) return Status::FromErrno("opening " + path);
      it = segments_.emplace(segment, UniqueFd(fd)).first;
    }
    std::string bytes(length, '\0');
    for (size_t done = 0; done < length;) {
      ssize_t n = pread(it->second.get(), bytes.data() + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno("reading segment " + path);
      if (n == 0) return Status::Error(EIO, "segment " + path + " is truncated");
      done += static_cast<size_t>(n);
    }
    return bytes;
  }

  std::unique_ptr<MetaDbReader> db_;
  const std::string segmentDir_;
  const uint32_t chunkSize_;
  const HashFunction hash_;
  const Id128 emptyBlobId_;
  std::map<uint32_t, UniqueFd> segments_;
};

}  // namespace

std::unique_ptr<Source> openStoreSource(Store& store) { return std::make_unique<OpenStore>(store); }

std::unique_ptr<Source> storeFilesSource(std::unique_ptr<MetaDbReader> db, std::string segmentDir,
                                         uint32_t chunkSize, HashFunction hash) {
  return std::make_unique<StoreFiles>(std::move(db), std::move(segmentDir), chunkSize, std::move(hash));
}

Result<StoreMarker> readMarker(const std::string& path) {
  std::optional<StoreMarker> marker = readStoreMarker(path);
  if (!marker) return Status::Error(EINVAL, "not an acidfs store");
  const StoreMarker& m = *marker;
  if (m.format != kFormatVersion)
    return Status::Error(EPROTO, "store format " + std::to_string(m.format) + ", this acidfs knows format " +
                                     std::to_string(kFormatVersion));
  if (!isValidChunkSize(m.chunkSize))
    return Status::Error(EPROTO, "an invalid chunk size");
  return m;
}

Result<UniqueFd> lockShared(const std::string& path) {
  const std::string lockPath = path + "/LOCK";
  UniqueFd fd(::open(lockPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return errno == ENOENT ? Result<UniqueFd>(UniqueFd()) : Status::FromErrno("opening " + lockPath);
  if (flock(fd.get(), LOCK_SH | LOCK_NB) != 0)
    return Status::Error(EBUSY, "in use by another process (" + readLockHolder(fd.get()).describe() + ")");
  return fd;
}

Result<std::unique_ptr<MetaDbReader>> openMetadata(const std::string& path, OpenFindings& found) {
  using WalRecovery = MetaDbReader::WalRecovery;
  const std::string dir = path + "/db";
  auto db = MetaDbReader::open(dir, WalRecovery::kStrict);
  if (!db.ok()) {
    const Status strict = db.status();
    db = MetaDbReader::open(dir, WalRecovery::kTornTail);
    if (db.ok()) {
      found.findings.push_back("write-ahead log: its last record is cut short (" + strict.message() +
                               "), as a crash in the middle of a write leaves it; opening the store drops that unfinished transaction");
    } else {
      const Status beforeTheEnd = db.status();
      db = MetaDbReader::open(dir, WalRecovery::kPointInTime);
      if (!db.ok()) return db.status();  // damaged beyond the log: the caller reports it
      found.findings.push_back("write-ahead log: damaged before its end (" + beforeTheEnd.message() +
                               "); opening the store keeps the transactions before the damage and drops the rest, committed ones too");
    }
    found.logDamaged = true;
    found.resolvedByOpening.push_back("replayed the write-ahead log up to its damage and dropped the rest");
  }
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> version, (*db)->get(Column::kDefault, "format_version"));
  if (version && *version != std::to_string(kFormatVersion))
    return Status::Error(EPROTO, "metadata of format " + *version + ", this acidfs knows format " + std::to_string(kFormatVersion));
  if (!version) {
    found.findings.push_back("metadata: no format_version, the store's formatting was cut short");
    found.resolvedByOpening.push_back("finished the store's formatting");
  }
  return db;
}

Status retireLogs(Store& store) {
  ACIDFS_RETURN_IF_ERROR(store.engine().put(Column::kDefault, "format_version", std::to_string(kFormatVersion), /*sync=*/true));
  return store.engine().flush();
}

}  // namespace acidfs::fsck
