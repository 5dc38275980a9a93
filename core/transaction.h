// One transaction runner for every metadata operation (STYLE §5): it begins a
// transaction of the metadata engine (core/meta_engine.h), lets the operation
// read what its decisions rest on with locks (Txn::read), retries lock
// conflicts a bounded number of times, makes new chunk bytes durable in the
// chunk store (core/chunk_store.h), and commits; the chunks a commit frees
// are released to the chunk store only once that commit is durable.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/format.h"
#include "core/id128.h"
#include "core/meta_engine.h"
#include "core/chunk_store.h"
#include "core/space_guard.h"
#include "core/status.h"
#include "core/thread_annotations.h"

namespace acidfs {

// What ContentStore keeps about content records during one transaction.
struct ContentTxnState {
  // Pending reference-count changes, applied once before commit so that a +1
  // and a −1 on the same record cost nothing.
  PerRecordKind<std::map<Id128, int64_t>> refDeltas;
  // Records created by this transaction (visited even when their delta is 0).
  PerRecordKind<std::set<Id128>> created;
  // Encoded records created or changed by this transaction and not yet
  // written: each is written once, with its final count, before commit (or
  // never, when it ends unreferenced).
  PerRecordKind<std::map<Id128, std::string>> unwritten;
};

class Txn {
 public:
  using Lock = MetaTxn::Lock;

  Txn(MetaTxn& meta, SpaceGuard* space) : meta_(meta), space_(space) {}

  // Reads a key that a decision rests on and locks it (present or absent)
  // until commit, so no concurrent transaction can change it meanwhile.
  Result<std::optional<std::string>> read(Column c, std::string_view key, Lock lock) {
    return meta_.read(c, key, lock);
  }
  // A read without a lock, for data that cannot change under us (content
  // records reachable from a locked inode); sees this transaction's writes.
  Result<std::optional<std::string>> peek(Column c, std::string_view key) { return meta_.peek(c, key); }
  // read()s of these keys come next: one round trip for them all where the
  // engine's reads are round trips (MetaTxn::prefetch).
  Status prefetch(Column c, const std::vector<std::string>& keys, Lock lock) { return meta_.prefetch(c, keys, lock); }
  bool prefetches() const { return meta_.prefetches(); }
  // Writes lock the key exclusively.
  Status put(Column c, std::string_view key, std::string_view value) { return meta_.put(c, key, value); }
  Status del(Column c, std::string_view key) { return meta_.del(c, key); }
  // A change feed record (core/feed.h), numbered and written at commit.
  void appendFeed(std::string value) { meta_.appendFeed(std::move(value)); }
  // Committed data merged with this transaction's writes; locks nothing
  // (MetaTxn::scan).
  std::unique_ptr<MetaCursor> scan(Column c) { return meta_.scan(c); }
  // Asks before appending `bytes` of chunk data (SpaceGuard): ENOSPC when
  // the store's filesystem is nearly full.
  Status mayAppend(uint64_t bytes) {
    const uint64_t covered = std::min(bytes, reservedCredit_);
    reservedCredit_ -= covered;
    return space_ ? space_->mayAppend(bytes, covered) : Status::OK();
  }
  // This transaction writes `bytes` into windows fallocate reserved for its
  // file (Reservations::coveredBytes): its appends, up to that many bytes,
  // and its commit are held to the lower floors (space_guard.h).
  void useReservation(uint64_t bytes) {
    reservedCredit_ = bytes;
    usesReservation_ = bytes > 0;
  }
  bool usesReservation() const { return usesReservation_; }

  // Bookkeeping for content records (ContentStore).
  ContentTxnState content;
  // Chunks this attempt put in the chunk store: made durable before its
  // commit, released when it does not commit.
  std::vector<StoredChunk> chunksPut;
  // Chunks in the chunk store that this transaction frees: released once
  // its commit is durable.
  std::vector<StoredChunk> chunksFreed;
  std::vector<std::function<void()>> afterCommit;
  // This attempt wrote change feed records (its afterCommit tells the feed).
  bool feedWritten = false;
  // Run once this attempt has ended, committed (true) or not: after the
  // commit and before afterCommit, or after the rollback.
  std::vector<std::function<void(bool committed)>> settle;

 private:
  MetaTxn& meta_;
  SpaceGuard* space_;  // null: no space checks
  uint64_t reservedCredit_ = 0;
  bool usesReservation_ = false;
};

struct TransactionCounters {
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> conflicts{0};  // preconditions that failed (SPEC §4)
};

class TransactionRunner {
 public:
  // `beforeCommit` runs after the body succeeded (ContentStore applies the
  // reference-count deltas there). With `syncEachCommit` every commit syncs
  // the WAL before it returns (-o sync). `space` (may be null) decides
  // whether a commit may add to a nearly full filesystem. `chunks` is where
  // chunks too large for their record live, or null: there is no chunk
  // store, every chunk is inline (ContentStore), and nothing is put or
  // released.
  TransactionRunner(MetaEngine& db, ChunkStore* chunks, SpaceGuard* space,
                    std::function<Status(Txn&)> beforeCommit, bool syncEachCommit);

  // Runs `body` in a transaction, all or nothing. A body that fails leaves no
  // trace: its writes are rolled back and the chunks it put released.
  //
  // `body` may run several times: an attempt that ends in Status::Retry (a
  // lock conflict or deadlock, from the engine, or a body's own) is abandoned
  // and the body run again, at most kMaxAttempts times; then the answer is
  // EBUSY. So a body must be safe to re-run: no effects outside the Txn
  // except through `txn.afterCommit`, which runs once, after the commit.
  Status run(const std::function<Status(Txn&)>& body);
  // As run(), but a conflict ends it at once with Status::Retry and nothing
  // done. For work that can wait for a later turn, so that it never makes
  // a caller's transaction lose round after round (AccessTimes::persist in
  // the background against a 1,000-op transact on the same inodes: each
  // retried until one of them gave up with EBUSY).
  Status runOnce(const std::function<Status(Txn&)>& body);

  // Makes every transaction committed before the call durable (syncs the
  // write-ahead log), then releases the chunks they freed to the chunk
  // store. Errors: EIO (or ENOSPC) when the sync fails; the chunks stay
  // held for a later sync.
  //
  // Group commit: callers that arrive while a sync runs wait for it to end,
  // and then one of them syncs for all of them (a sync covers only what was
  // committed before it began). So N concurrent fsync(2)s cost at most two
  // log syncs, not N.
  Status syncCommitted() EXCLUDES(releaseMutex_, groupMutex_);

  const TransactionCounters& counters() const { return counters_; }
  bool syncEachCommit() const { return syncEachCommit_; }

 private:
  static constexpr int kMaxAttempts = 64;
  Status attempt(const std::function<Status(Txn&)>& body);

  // After the engine stopped taking writes (MetaEngine::writesStopped): resumes
  // them once the filesystem has room again, else the error (ENOSPC, EIO).
  Status resumeWrites() EXCLUDES(resumeMutex_);

  // Releases `freed`, freed by a commit that just returned, to the chunk
  // store once that commit is durable.
  void releaseWhenDurable(std::vector<StoredChunk> freed) EXCLUDES(releaseMutex_);

  // Constant after construction.
  MetaEngine& db_;
  ChunkStore* const chunks_;  // null: every chunk is inline
  SpaceGuard* const space_;
  const std::function<Status(Txn&)> beforeCommit_;
  const bool syncEachCommit_;

  TransactionCounters counters_;  // atomics

  // Chunks freed by commits not yet known to be durable.
  //
  // Invariant (SPEC §3, power cut): a chunk freed by a commit reaches
  // ChunkStore::release() only once that commit is on stable storage —
  // at once with syncEachCommit_, otherwise after a write-ahead-log sync that
  // began after the commit returned. Until then a power cut can bring back
  // the metadata that names its place, so its bytes (and, for SegmentStore,
  // its segment file) must still be there. LevelDB's rule for obsolete
  // files, for chunks.
  //
  // How: a batch is stamped with syncEpoch_ as it is queued (after Commit()
  // returned); syncCommitted() takes epoch e and bumps it before it syncs,
  // so that sync covers every batch stamped <= e. Stamps never decrease
  // along the queue. Losing the queue (a crash) only leaks the space until
  // the next open, whose sweep frees every place no record names.
  Mutex resumeMutex_;

  // Group commit (syncCommitted). Requests are numbered; a sync that began
  // after request r was made, and succeeded, covers it. Invariant:
  // synced_ <= requested_, and every request <= synced_ is durable.
  Status syncOnce() EXCLUDES(releaseMutex_);
  Mutex groupMutex_;
  std::condition_variable_any groupChanged_;
  uint64_t requested_ GUARDED_BY(groupMutex_) = 0;
  uint64_t synced_ GUARDED_BY(groupMutex_) = 0;
  bool syncing_ GUARDED_BY(groupMutex_) = false;

  Mutex releaseMutex_;
  uint64_t syncEpoch_ GUARDED_BY(releaseMutex_) = 0;
  std::deque<std::pair<uint64_t, std::vector<StoredChunk>>> unsyncedReleases_ GUARDED_BY(releaseMutex_);
};

}  // namespace acidfs
