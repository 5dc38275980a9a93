// The metadata database: a RocksDB TransactionDB (pessimistic locking) with
// one column family per kind of record (format.h). The RocksDB
// implementation of the metadata engine (core/meta_engine.h); its
// transactions and cursors are in core/meta_db_txn.cc.
//
// Why TransactionDB rather than OptimisticTransactionDB: a filesystem has hot
// keys — every create in a directory writes that directory's inode — so
// optimistic validation would turn ordinary concurrency into aborts and
// retries. Point locks taken by GetForUpdate make those writers queue instead,
// and lock absent keys too, which is what a "must not exist" check needs.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/utilities/transaction_db.h>

#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/format.h"
#include "core/meta_engine.h"
#include "core/status.h"
#include "core/thread_annotations.h"

namespace acidfs {

// Maps a RocksDB status to ours. Lock conflicts (Busy, TimedOut, Deadlock,
// TryAgain) become Status::Retry, which the transaction runner retries.
// The message is "what: RocksDB's words", or RocksDB's words alone when
// `what` is null.
Status fromRocks(const rocksdb::Status& s, const char* what);

class MetaDbTxn;

class MetaDb final : public MetaEngine {
 public:
  // `fileSystem` holds the database's files (null: RocksDB's default, the
  // real ones); tests pass a disk model that can cut the power.
  //
  // A log damaged anywhere but in its last record (which a crash in the
  // middle of a write cuts short) is refused, EUCLEAN: replaying it would
  // silently drop the complete records after the damage. With
  // `dropAfterDamage` it is replayed up to the damage (`acidfs fsck
  // --repair`, after reporting it).
  static Result<std::unique_ptr<MetaDb>> open(const std::string& dir,
                                              std::shared_ptr<rocksdb::FileSystem> fileSystem = nullptr,
                                              bool dropAfterDamage = false);
  ~MetaDb() override;

  // RocksDB itself, for tests of how acidfs uses it.
  rocksdb::TransactionDB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(Column c) { return handles_[static_cast<int>(c)]; }

  // ---- MetaEngine ------------------------------------------------------------
  // A pessimistic RocksDB transaction with deadlock detection; a lock
  // waited for over 2 s is Status::Retry. `sync`: WriteOptions::sync.
  std::unique_ptr<MetaTxn> begin(bool sync) override EXCLUDES(idleMutex_);
  Result<std::optional<std::string>> get(Column c, std::string_view key) override;
  std::unique_ptr<MetaCursor> scan(Column c) override;
  Status put(Column c, std::string_view key, std::string_view value, bool sync) override;
  Result<uint64_t> allocate(const std::string& name, uint64_t count, uint64_t floor) override EXCLUDES(countersMutex_);
  Result<uint64_t> nextVersion() override EXCLUDES(versionMutex_);
  Result<std::vector<FeedEntry>> readFeed(uint64_t from, size_t max) override EXCLUDES(feedMutex_);
  Status trimFeed(uint64_t before) override;
  Result<uint64_t> feedEnd() override EXCLUDES(feedMutex_);
  // A committing transaction's feed number, in flight until feedSettled():
  // readers stop below it meanwhile (readFeed).
  Result<uint64_t> takeFeedSeq() EXCLUDES(feedMutex_);
  void feedSettled(uint64_t seq) EXCLUDES(feedMutex_);
  // Everything committed so far is durable when these return: syncLog()
  // syncs the write-ahead log; flush() writes the memtables to synced table
  // files, which also covers records replayed at open from a log that was
  // never synced (syncLog() covers only the logs written since). flush()
  // also records that no older log is needed (so that they are deleted and
  // never replayed again), even when nothing was written since the last.
  Status syncLog() override;
  Status flush() override;

  // RocksDB stops taking writes after it failed to write its own files (a
  // full disk, an I/O error), until it is resumed. Meanwhile every commit
  // fails, and syncLog(), flush() and the close do not touch the log:
  // RocksDB 7.8 (Debian's build keeps its assertions) aborts the process
  // when a log file whose write failed is written or synced again.
  // writesStopped() is the errno RocksDB's error maps to (ENOSPC, EIO), or 0.
  int writesStopped() const override { return health_->stoppedErrno.load(); }
  // Asks RocksDB to take writes again (DB::Resume: it flushes the memtables
  // to new table files and starts a new log, so it needs some free space).
  // OK when writes were not stopped.
  Status resume() override;
  // Bytes committed since the memtables were last flushed: about what the
  // next flush writes to disk (at most; tables are compressed), and what the
  // log holds. RocksDB's own memtable size counts its arena blocks instead.
  // Each commit adds its write batch's size (MetaDbTxn::commit).
  uint64_t unflushedBytes() const override { return health_->unflushedBytes.load(); }

  // ---- RocksDB's own ---------------------------------------------------------
  // Drops deleted records now rather than at RocksDB's next compaction:
  // flushes the memtables and compacts every column family to its bottom.
  Status compact();
  // Every block of every live table file against its checksum
  // (DB::VerifyChecksum): EIO with RocksDB's message naming the file.
  Status verifyChecksums();

  // Shared with RocksDB's event listener, which may outlive the MetaDb.
  struct Health {
    std::atomic<int> stoppedErrno{0};
    std::atomic<uint64_t> unflushedBytes{0};
  };

 private:
  friend class MetaDbTxn;
  MetaDb() = default;
  Status stoppedError(const char* what) const;
  Status flushAll();  // every column family's memtable, atomically
  // A finished transaction back to the pool (MetaDbTxn's destructor).
  void recycle(std::unique_ptr<rocksdb::Transaction> txn) EXCLUDES(idleMutex_);
  void noteCommitted(uint64_t bytes) { health_->unflushedBytes += bytes; }

  // Constant after open().
  std::shared_ptr<Health> health_ = std::make_shared<Health>();
  std::unique_ptr<rocksdb::Env> env_;  // over a FileSystem given to open(); outlives db_
  std::unique_ptr<rocksdb::TransactionDB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, kColumnCount> handles_{};

  // RocksDB transaction objects are reused (BeginTransaction's old_txn):
  // building one allocates its write batch, index and lock tracker, about a
  // tenth of a small transaction's cost. At most kMaxIdle are kept; they are
  // destroyed before db_ closes.
  static constexpr size_t kMaxIdle = 32;
  Mutex idleMutex_;
  std::vector<std::unique_ptr<rocksdb::Transaction>> idle_ GUARDED_BY(idleMutex_);

  // allocate()'s counters: the next number of each, in memory only.
  Mutex countersMutex_;
  std::map<std::string, uint64_t> counters_ GUARDED_BY(countersMutex_);

  // The feed's numbers (feed.h). Invariant: every number below
  // feedVisibleBelow_ has committed or never will, and feedSettled_[i] says
  // whether number feedVisibleBelow_ + i has (numbers are taken in order, so
  // a deque, not a set: no allocation per commit); readFeed reads below
  // feedVisibleBelow_. nextFeedSeq_ 0: not read from the feed's last key yet.
  Mutex feedMutex_;
  uint64_t nextFeedSeq_ GUARDED_BY(feedMutex_) = 0;
  uint64_t feedVisibleBelow_ GUARDED_BY(feedMutex_) = 0;
  std::deque<bool> feedSettled_ GUARDED_BY(feedMutex_);
  Status loadFeedSeq() REQUIRES(feedMutex_);

  // nextVersion()'s count. Invariant: every number handed out is below the
  // mark, and the mark is durable (a synced put) before a number under it is
  // handed out — so after any crash the count resumes above them all.
  static constexpr uint64_t kVersionBatch = 1 << 16;
  Mutex versionMutex_;
  uint64_t nextVersion_ GUARDED_BY(versionMutex_) = 0;  // 0: the mark not read yet
  uint64_t versionMark_ GUARDED_BY(versionMutex_) = 0;
};

// The same database opened read-only (RocksDB's OpenForReadOnly), for fsck
// without --repair, which must leave every file of the store as it found it:
// the write-ahead log is replayed into memory only; no table, log, MANIFEST,
// OPTIONS or info LOG file is created, written or renamed (RocksDB's info log
// goes to ours, errors only). No process may have the database open for
// writing meanwhile (the store's LOCK, Store::open).
class MetaDbReader final : public MetaReader {
 public:
  enum class WalRecovery {
    // Refuse a write-ahead log with any damage, even a torn last record
    // (RocksDB's kAbsoluteConsistency): the open fails, EUCLEAN.
    kStrict,
    // Refuse damage anywhere but in the log's last record: a record cut
    // short, as a crash in the middle of a write leaves it, is dropped
    // (kTolerateCorruptedTailRecords).
    kTornTail,
    // Replay it up to its first damage and drop the rest, as MetaDb::open
    // does (kPointInTimeRecovery).
    kPointInTime,
  };
  // EUCLEAN when RocksDB finds its files damaged (a log that `recovery`
  // refuses, a MANIFEST or table file it cannot read: its Corruption), EIO
  // when it cannot open them otherwise (missing, unreadable); RocksDB's
  // reason is in the message.
  static Result<std::unique_ptr<MetaDbReader>> open(const std::string& dir, WalRecovery recovery);
  ~MetaDbReader() override;

  Result<std::optional<std::string>> get(Column c, std::string_view key) override;
  std::unique_ptr<MetaCursor> scan(Column c) override;
  // Every block of every live table file against its checksum
  // (DB::VerifyChecksum): EIO with RocksDB's message naming the file.
  Status verifyChecksums();

 private:
  MetaDbReader() = default;
  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, kColumnCount> handles_{};
};

}  // namespace acidfs
