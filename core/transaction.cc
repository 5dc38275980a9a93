#include "core/transaction.h"

#include <rocksdb/perf_level.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <chrono>
#include <random>
#include <thread>

namespace acidfs {

namespace {
rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
}  // namespace

Result<std::optional<std::string>> Txn::read(Column c, std::string_view key, Lock lock) {
  std::string value;
  rocksdb::Status s = txn_->GetForUpdate(rocksdb::ReadOptions(), db_.cf(c), slice(key), &value,
                                         lock == Lock::kExclusive);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return fromRocks(s, "locked read");
  return std::optional<std::string>(std::move(value));
}

Result<std::optional<std::string>> Txn::peek(Column c, std::string_view key) {
  std::string value;
  rocksdb::Status s = txn_->Get(rocksdb::ReadOptions(), db_.cf(c), slice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return fromRocks(s, "read");
  return std::optional<std::string>(std::move(value));
}

Status Txn::put(Column c, std::string_view key, std::string_view value) {
  return fromRocks(txn_->Put(db_.cf(c), slice(key), slice(value)), "write");
}

Status Txn::del(Column c, std::string_view key) {
  return fromRocks(txn_->Delete(db_.cf(c), slice(key)), "delete");
}

std::unique_ptr<rocksdb::Iterator> Txn::iterate(Column c) {
  return std::unique_ptr<rocksdb::Iterator>(txn_->GetIterator(rocksdb::ReadOptions(), db_.cf(c)));
}

TransactionRunner::TransactionRunner(MetaDb& db, SegmentStore& segments, SpaceGuard* space,
                                     std::function<Status(Txn&)> beforeCommit, bool syncEachCommit)
    : db_(db), segments_(segments), space_(space), beforeCommit_(std::move(beforeCommit)), syncEachCommit_(syncEachCommit) {}

Status TransactionRunner::run(const std::function<Status(Txn&)>& body) {
  thread_local std::minstd_rand jitter(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    Status s = this->attempt(body);
    if (s.ok()) {
      counters_.commits++;
      return s;
    }
    if (s.isConflict()) counters_.conflicts++;
    if (!s.isRetry()) return s;
    if (attempt == kMaxAttempts)
      return Status::Error(EBUSY, "transaction kept conflicting with others: " + s.message());
    counters_.retries++;
    // Back off a little, randomly, so that two deadlocked peers do not meet again.
    std::this_thread::sleep_for(std::chrono::microseconds(jitter() % (50u << std::min(attempt, 8))));
  }
}

std::unique_ptr<rocksdb::Transaction> TransactionRunner::begin(const rocksdb::WriteOptions& writeOptions) {
  std::unique_ptr<rocksdb::Transaction> old;
  {
    MutexLock lock(idleMutex_);
    if (!idle_.empty()) {
      old = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  rocksdb::TransactionOptions txnOptions;
  txnOptions.deadlock_detect = true;
  rocksdb::Transaction* raw = db_.db()->BeginTransaction(writeOptions, txnOptions, old.get());
  if (raw == old.get()) old.release();  // reinitialised in place
  return std::unique_ptr<rocksdb::Transaction>(raw);
}

void TransactionRunner::recycle(std::unique_ptr<rocksdb::Transaction> txn) {
  MutexLock lock(idleMutex_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(txn));
}

Status TransactionRunner::attempt(const std::function<Status(Txn&)>& body) {
  // RocksDB's per-thread performance counters cost a thread-local lookup in
  // every memtable and lock operation; nothing here reads them.
  thread_local bool countersOff = (rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable), true);
  (void)countersOff;
  rocksdb::WriteOptions writeOptions;
  writeOptions.sync = syncEachCommit_;
  std::unique_ptr<rocksdb::Transaction> raw = begin(writeOptions);
  Txn txn(db_, raw.get(), space_);

  auto settle = [&txn](bool committed) {
    for (auto& f : txn.settle) f(committed);
  };
  auto abandon = [&](Status why) {
    raw->Rollback().PermitUncheckedError();
    recycle(std::move(raw));
    segments_.release(txn.appended);
    settle(false);
    return why;
  };

  Status s = body(txn);
  if (s.ok() && beforeCommit_) s = beforeCommit_(txn);
  if (s.ok() && space_)
    s = space_->mayCommit(txn.appended.empty() && raw->GetWriteBatch()->GetWriteBatch()->HasDelete(),
                          txn.usesReservation());
  if (s.ok() && db_.writesStopped() != 0) s = resumeWrites();
  if (!s.ok()) return abandon(s);
  // Chunk bytes are on stable storage before any record naming them commits.
  s = segments_.sync(txn.segmentsToSync);
  if (!s.ok()) return abandon(s);
  const uint64_t batchBytes = raw->GetWriteBatch()->GetWriteBatch()->GetDataSize();
  s = fromRocks(raw->Commit(), "commit");
  if (!s.ok()) {
    // A failed Commit may still have reached the log (an error syncing it,
    // say) and come back at the next open: its outcome is unknown, so its
    // new extents are left to that open's sweep instead of punched now.
    txn.appended.clear();
    return abandon(s);
  }
  db_.noteCommitted(batchBytes);
  recycle(std::move(raw));
  if (syncEachCommit_)
    segments_.release(txn.toRelease);  // this commit is on stable storage already
  else
    releaseWhenDurable(std::move(txn.toRelease));
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

void TransactionRunner::releaseWhenDurable(std::vector<Extent> extents) {
  if (extents.empty()) return;
  MutexLock lock(releaseMutex_);
  unsyncedReleases_.emplace_back(syncEpoch_, std::move(extents));
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
  // After RocksDB stopped taking writes, its resume flushes every commit to
  // table files: durable without the log.
  if (db_.writesStopped() != 0)
    ACIDFS_RETURN_IF_ERROR(resumeWrites());
  else
    ACIDFS_RETURN_IF_ERROR(db_.syncWal());
  std::vector<Extent> durable;
  {
    MutexLock lock(releaseMutex_);
    while (!unsyncedReleases_.empty() && unsyncedReleases_.front().first <= covered) {
      auto& batch = unsyncedReleases_.front().second;
      durable.insert(durable.end(), batch.begin(), batch.end());
      unsyncedReleases_.pop_front();
    }
  }
  segments_.release(durable);
  return Status::OK();
}

}  // namespace acidfs
