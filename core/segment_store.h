// The chunk store of a directory store (core/chunk_store.h): chunk bytes
// that are too large to live inline in RocksDB are appended to segment files: STORE/segments/NNNNNNNN.seg, each filled to ~256 MiB, then
// sealed. An extent is (segment, offset, length); offsets are 4 KiB aligned
// so that a freed extent can be returned to the filesystem with
// FALLOC_FL_PUNCH_HOLE, and a segment with no live bytes is unlinked.
//
// An extent is "live" when a committed ChunkRecord names it. Appends happen
// before the transaction that references them commits; when that transaction
// aborts, or a crash cuts it off, the extent is an orphan: aborted ones are
// punched at once, crash orphans by sweep() when the store opens. An extent
// that a commit frees is handed to release() only once that commit is
// durable (TransactionRunner): release() trusts its caller on this.
//
// Durability of names: a segment file's directory entry is on stable
// storage before sync() of that segment returns (a new file is followed by
// an fsync of segments/), and segments/ itself before open() returns when
// open() created it. So no committed record can name a file a power cut
// takes away.
//
// Every file operation goes through SegmentFiles (segment_files.h): POSIX,
// or in tests a disk model that can cut the power.
#pragma once

#include <atomic>
#include <condition_variable>
#include <thread>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/chunk_store.h"
#include "core/segment_files.h"
#include "core/status.h"
#include "core/thread_annotations.h"

namespace acidfs {

class SegmentStore final : public ChunkStore {
 public:
  static constexpr uint64_t kSegmentTarget = 256ull << 20;
  static constexpr uint64_t kAlign = 4096;

  // Opens STORE/segments (creating it); `liveExtents` are all extents named by
  // committed records: everything else in the segment files is swept —
  // unless `sweep` is false (a corrupt record, or one that damaged metadata
  // hides, may name bytes not listed); then no segment there now is ever
  // unlinked either, however many of the listed bytes are released.
  // `files` does the file operations (null: posixSegmentFiles()).
  static Result<std::unique_ptr<SegmentStore>> open(const std::string& dir, const std::vector<Extent>& liveExtents,
                                                    bool sweep = true, std::shared_ptr<SegmentFiles> files = nullptr);
  ~SegmentStore() override;

  // ---- as a ChunkStore ---------------------------------------------------------
  // put: append(); read: read(extent); makeDurable: sync() of the segments
  // holding them; release: release(extents). The chunk's id is not needed:
  // an extent is never reused while anything may name it.
  Result<Extent> put(const Id128& id, std::string_view bytes) override;
  Status read(const Id128& id, const Extent& place, char* out) const override;
  Status makeDurable(const std::vector<StoredChunk>& chunks) override;
  void release(const std::vector<StoredChunk>& chunks) override;
  void drainReleases() override;
  uint64_t bytesOnDisk() const override;  // allocated blocks of all segment files
  uint64_t liveBytes() const override;
  std::shared_mutex& releaseLock() override { return releaseLock_; }

  // ---- in segment words ---------------------------------------------------------
  // Writes `data` at a fresh extent of the active segment. Not yet durable.
  Result<Extent> append(std::string_view data);
  // Reads an extent (pread). Short reads are EIO.
  Status read(const Extent& extent, char* out) const;
  // Makes every extent in these segments durable (fdatasync), and the name
  // of a segment created since its last sync (fsync of the directory).
  Status sync(const std::set<uint32_t>& segments);
  // Queues extents whose blocks go back to the filesystem: extents no record
  // names, nor can after a power cut (never committed, or freed by a commit
  // that is durable). A background thread punches them (adjacent ones in
  // one call) and unlinks a sealed segment with no live bytes left. Errors
  // are logged, not returned: a failed punch only wastes space, and the
  // next sweep retries it.
  void release(const std::vector<Extent>& extents);
  void release(const Extent& extent) { release(std::vector<Extent>{extent}); }
  // (drainReleases() waits until every queued release is punched;
  // releaseLock() is held exclusively while a batch is.)

 private:
  struct Segment {
    std::unique_ptr<SegmentFile> file;
    std::atomic<int64_t> liveBytes{0};  // appended − released, aligned lengths
    // Its live extents were not all known at open (open() without sweep):
    // liveBytes is short of them, so reaching 0 does not make it empty.
    bool keep = false;
    // False from creation until an fsync of the directory made the file's
    // name durable; sync() does that before it reports the segment durable.
    std::atomic<bool> nameDurable{true};
  };
  SegmentStore(std::string dir, std::shared_ptr<SegmentFiles> files) : dir_(std::move(dir)), files_(std::move(files)) {}
  std::string pathOf(uint32_t number) const;
  Status openSegment(uint32_t number, bool create) REQUIRES(mutex_);
  Status rollActiveSegment() REQUIRES(mutex_);
  Segment* find(uint32_t number) const;
  void reclaimLoop();
  void punchBatch(std::vector<Extent> batch);
  void punch(uint32_t number, Segment& seg, uint64_t offset, uint64_t length);

  // Constant after construction.
  const std::string dir_;
  const std::shared_ptr<SegmentFiles> files_;
  std::shared_mutex releaseLock_;

  mutable Mutex mutex_;
  // Segments never leave this map while the store is open except through
  // release() of a sealed, empty one; Segment objects are never moved.
  std::map<uint32_t, std::unique_ptr<Segment>> segments_ GUARDED_BY(mutex_);
  uint32_t active_ GUARDED_BY(mutex_) = 0;
  uint64_t activeEnd_ GUARDED_BY(mutex_) = 0;  // next free offset in the active segment

  Mutex queueMutex_;
  std::condition_variable_any queueChanged_;
  std::vector<Extent> queue_ GUARDED_BY(queueMutex_);
  bool punching_ GUARDED_BY(queueMutex_) = false;
  bool stopping_ GUARDED_BY(queueMutex_) = false;
  std::thread reclaimer_;
};

}  // namespace acidfs
