// Where `acidfs fsck` (core/fsck.h) reads a store from, and the store's
// directory as fsck meets it: the marker, the LOCK, the metadata opened
// read-only (and what that open reveals of a damaged log). The check itself
// is core/fsck.cc; it sees a store only through Source.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/format.h"
#include "core/id128.h"
#include "core/meta_db.h"
#include "core/meta_engine.h"
#include "core/records.h"
#include "core/status.h"
#include "core/store.h"

namespace acidfs {

namespace fsck {

// The checker reads a store through this: the open Store (--repair, tests)
// or, for a check that must change nothing, the store's files read-only.
class Source {
 public:
  virtual ~Source() = default;
  virtual std::unique_ptr<MetaCursor> scan(Column c) = 0;
  virtual Result<std::optional<std::string>> get(Column c, std::string_view key) = 0;
  virtual const Id128& emptyBlobId() const = 0;
  virtual uint32_t chunkSize() const = 0;
  // What a record alone can be checked for (ContentStore::check).
  virtual Status check(const Id128& id, const BlobRecord& record) const = 0;
  virtual Status check(const Id128& id, const PageRecord& record) const = 0;
  virtual Status check(const Id128& id, const ChunkRecord& record) const = 0;
  // A chunk's bytes against its id (ContentStore::verifyChunk).
  virtual Status verifyChunk(const Id128& id, const ChunkRecord& record) = 0;
  // Every block of the metadata's table files against its checksum.
  virtual Status verifyChecksums() = 0;
  // A store whose chunks are RADOS objects: their pool, whose every object
  // fsck accounts for (core/fsck_objects.h). Null for other stores.
  virtual RadosChunkStore* radosChunks() { return nullptr; }
};

// The open Store (--repair, tests): its own ContentStore's rules and reads.
std::unique_ptr<Source> openStoreSource(Store& store);
// The store's files, read-only: the metadata through `db`, chunk bytes by
// pread of the segment files in `segmentDir`, opened O_RDONLY.
std::unique_ptr<Source> storeFilesSource(std::unique_ptr<MetaDbReader> db, std::string segmentDir,
                                         uint32_t chunkSize, HashFunction hash);

// A file descriptor this owns, closed when it goes.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// The marker (format.h: "acidfs store\nformat N\nchunk_size N\n"), read as
// Store::open reads it: a directory without one is not a store.
Result<StoreMarker> readMarker(const std::string& path);

// The store's LOCK, flocked shared while its files are read: a daemon holds
// it exclusively (Store::open), so one running makes this EBUSY and none
// can start meanwhile. Opened read-only: the pid in it stays as it is. A
// store without a LOCK was never opened since it lost it: nothing to hold.
Result<UniqueFd> lockShared(const std::string& path);

// What the read-only open finds that only the store's own (read-write)
// open resolves: a log that does not replay whole (replayed up to the
// damage, the rest dropped) or a format cut short (finished).
struct OpenFindings {
  std::vector<std::string> findings;
  std::vector<std::string> resolvedByOpening;  // what the store's open does about each
  bool logDamaged = false;
};

// Opens the metadata read-only. RocksDB tells whether the write-ahead log
// replays whole only by refusing it under a stricter recovery mode: a log
// refused only for its last record was cut short by a crash mid-write (that
// transaction never returned); one refused before that lost transactions
// that did. Either way the store's own open replays up to the damage, and
// so does this one then; the damage is a finding.
Result<std::unique_ptr<MetaDbReader>> openMetadata(const std::string& path, OpenFindings& found);

// Opening the store replayed a damaged log up to the damage; but RocksDB
// (under TransactionDB's two-phase commit) deletes a log only once a flush
// has recorded that nothing needs it, which the flush of replayed data does
// not, so the damaged log would stay and be replayed — and its damage
// reported — at every open. A write and a flush of every column family
// record it (MetaDb's destructor flushes for the same reason).
Status retireLogs(Store& store);

}  // namespace fsck
}  // namespace acidfs
