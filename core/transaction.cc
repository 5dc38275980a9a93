#include "core/transaction.h"

#include <chrono>
#include <random>
#include <thread>

namespace acidfs {

TransactionRunner::TransactionRunner(MetaEngine& db, ChunkStore* chunks, SpaceGuard* space,
                                     std::function<Status(Txn&)> beforeCommit, bool syncEachCommit)
    : db_(db), chunks_(chunks), space_(space), beforeCommit_(std::move(beforeCommit)), syncEachCommit_(syncEachCommit) {}

Status TransactionRunner::run(const std::function<Status(Txn&)>& body) {
  thread_local std::minstd_rand jitter(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    Status s = runOnce(body);
    if (s.ok() || !s.isRetry()) return s;
    if (attempt == kMaxAttempts)
      return Status::Error(EBUSY, "transaction kept conflicting with others: " + s.message());
    counters_.retries++;
    // Back off a little, randomly, so that two deadlocked peers do not meet again.
    std::this_thread::sleep_for(std::chrono::microseconds(jitter() % (50u << std::min(attempt, 8))));
  }
}

// One attempt, counted: run()'s and the background's (AccessTimes).
Status TransactionRunner::runOnce(const std::function<Status(Txn&)>& body) {
  Status s = attempt(body);
  if (s.ok()) counters_.commits++;
  if (s.isConflict()) counters_.conflicts++;
  return s;
}

Status TransactionRunner::attempt(const std::function<Status(Txn&)>& body) {
  std::unique_ptr<MetaTxn> meta = db_.begin(syncEachCommit_);
  Txn txn(*meta, space_);

  auto settle = [&txn](bool committed) {
    for (auto& f : txn.settle) f(committed);
  };
  auto abandon = [&](Status why) {
    meta->rollback();
    meta.reset();  // back to the engine (MetaDb keeps it for reuse)
    if (chunks_) chunks_->release(txn.chunksPut);
    settle(false);
    return why;
  };

  Status s = body(txn);
  if (s.ok() && beforeCommit_) s = beforeCommit_(txn);
  if (s.ok() && space_) s = space_->mayCommit(txn.chunksPut.empty() && meta->deletes(), txn.usesReservation());
  if (s.ok() && db_.writesStopped() != 0) s = resumeWrites();
  if (!s.ok()) return abandon(s);
  // Chunk bytes are on stable storage before any record naming them commits.
  if (chunks_) {
    s = chunks_->makeDurable(txn.chunksPut);
    if (!s.ok()) return abandon(s);
  }
  CommitResult committed = meta->commit();
  if (!committed.status.ok()) {
    // A commit whose outcome is unknown may come back at the next open
    // (RocksDB: it may be in the log already): the chunks it put are left
    // to that open's sweep instead of released now.
    if (committed.outcomeUnknown) txn.chunksPut.clear();
    return abandon(committed.status);
  }
  meta.reset();
  if (syncEachCommit_) {
    if (chunks_) chunks_->release(txn.chunksFreed);  // this commit is on stable storage already
  } else {
    releaseWhenDurable(std::move(txn.chunksFreed));
  }
  settle(true);
  for (auto& f : txn.afterCommit) f();
  return Status::OK();
}

Status TransactionRunner::resumeWrites() {
  // One caller at a time resumes; the others find it done, or refused.
  MutexLock lock(resumeMutex_);
  if (db_.writesStopped() == 0) return Status::OK();
  // Resuming flushes the memtables: it needs the room the hard floor keeps.
  if (space_ && space_->freeBytes() < space_->floors().hard)
    return Status::Error(db_.writesStopped(), "the metadata database stopped taking writes: no room to resume yet");
  return db_.resume();
}

void TransactionRunner::releaseWhenDurable(std::vector<StoredChunk> freed) {
  if (freed.empty()) return;  // always, without a chunk store
  MutexLock lock(releaseMutex_);
  unsyncedReleases_.emplace_back(syncEpoch_, std::move(freed));
}

Status TransactionRunner::syncCommitted() {
  MutexLock lock(groupMutex_);
  const uint64_t mine = ++requested_;
  while (synced_ < mine) {
    if (syncing_) {
      groupChanged_.wait(groupMutex_);
      continue;
    }
    // Lead a sync for every request made so far: it begins now, after all of them.
    const uint64_t covers = requested_;
    syncing_ = true;
    groupMutex_.unlock();
    Status s = syncOnce();
    groupMutex_.lock();
    syncing_ = false;
    // A failed sync covers no one: its leader reports the error, and the
    // others it would have covered try again themselves (a later sync that
    // succeeds, or the resume after a stop, makes their commits durable).
    if (s.ok()) synced_ = std::max(synced_, covers);
    groupChanged_.notify_all();
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status TransactionRunner::syncOnce() {
  uint64_t covered;
  {
    MutexLock lock(releaseMutex_);
    covered = syncEpoch_++;  // batches stamped <= covered were committed before the sync below began
  }
  // After the engine stopped taking writes, its resume flushes every commit
  // (RocksDB: to table files): durable without the log.
  if (db_.writesStopped() != 0)
    ACIDFS_RETURN_IF_ERROR(resumeWrites());
  else
    ACIDFS_RETURN_IF_ERROR(db_.syncLog());
  std::vector<StoredChunk> durable;
  {
    MutexLock lock(releaseMutex_);
    while (!unsyncedReleases_.empty() && unsyncedReleases_.front().first <= covered) {
      auto& batch = unsyncedReleases_.front().second;
      durable.insert(durable.end(), batch.begin(), batch.end());
      unsyncedReleases_.pop_front();
    }
  }
  if (chunks_) chunks_->release(durable);
  return Status::OK();
}

}  // namespace acidfs
