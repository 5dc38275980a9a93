// The metadata database: a RocksDB TransactionDB (pessimistic locking) with
// one column family per kind of record (format.h).
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
#include <memory>
#include <optional>
#include <string>

#include "core/format.h"
#include "core/status.h"

namespace acidfs {

// Maps a RocksDB status to ours. Lock conflicts (Busy, TimedOut, Deadlock,
// TryAgain) become Status::Retry, which the transaction runner retries.
Status fromRocks(const rocksdb::Status& s, const char* what);

class MetaDb {
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
  ~MetaDb();

  rocksdb::TransactionDB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(Column c) { return handles_[static_cast<int>(c)]; }

  // A read outside any transaction: the latest committed value.
  Result<std::optional<std::string>> get(Column c, std::string_view key);
  std::unique_ptr<rocksdb::Iterator> iterator(Column c);
  // The bytes an iterator's key() or value() points at, copied out: how code
  // that iterates while others write reads them. Under ThreadSanitizer the
  // copy is exempt from checking: the bytes live in RocksDB's memtable, put
  // there by writers in Debian's uninstrumented librocksdb and published
  // with atomics TSan cannot see, so every such read would be reported as a
  // race (tests/tsan.supp explains the rest). What is done with the copy is
  // checked as usual.
  static std::string copyOut(const rocksdb::Slice& bytes);

  Status put(Column c, std::string_view key, std::string_view value, bool sync);
  // Everything committed so far is durable when these return: syncWal()
  // syncs the write-ahead log; flush() writes the memtables to synced table
  // files, which also covers records replayed at open from a log that was
  // never synced (syncWal() covers only the logs written since). flush()
  // also records that no older log is needed (so that they are deleted and
  // never replayed again), even when nothing was written since the last.
  Status syncWal();
  Status flush();

  // RocksDB stops taking writes after it failed to write its own files (a
  // full disk, an I/O error), until it is resumed. Meanwhile every commit
  // fails, and syncWal(), flush() and the close do not touch the log:
  // RocksDB 7.8 (Debian's build keeps its assertions) aborts the process
  // when a log file whose write failed is written or synced again.
  // writesStopped() is the errno RocksDB's error maps to (ENOSPC, EIO), or 0.
  int writesStopped() const { return health_->stoppedErrno.load(); }
  // Asks RocksDB to take writes again (DB::Resume: it flushes the memtables
  // to new table files and starts a new log, so it needs some free space).
  // OK when writes were not stopped.
  Status resume();
  // Bytes committed since the memtables were last flushed: about what the
  // next flush writes to disk (at most; tables are compressed), and what the
  // log holds. RocksDB's own memtable size counts its arena blocks instead.
  uint64_t unflushedBytes() const { return health_->unflushedBytes.load(); }
  void noteCommitted(uint64_t bytes) { health_->unflushedBytes += bytes; }

  // Shared with RocksDB's event listener, which may outlive the MetaDb.
  struct Health {
    std::atomic<int> stoppedErrno{0};
    std::atomic<uint64_t> unflushedBytes{0};
  };

 private:
  MetaDb() = default;
  Status stoppedError(const char* what) const;

  std::shared_ptr<Health> health_ = std::make_shared<Health>();
  std::unique_ptr<rocksdb::Env> env_;  // over a FileSystem given to open(); outlives db_
  std::unique_ptr<rocksdb::TransactionDB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, kColumnCount> handles_{};
};

// The same database opened read-only (RocksDB's OpenForReadOnly), for fsck
// without --repair, which must leave every file of the store as it found it:
// the write-ahead log is replayed into memory only; no table, log, MANIFEST,
// OPTIONS or info LOG file is created, written or renamed (RocksDB's info log
// goes to ours, errors only). No process may have the database open for
// writing meanwhile (the store's LOCK, Store::open).
class MetaDbReader {
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
  ~MetaDbReader();

  Result<std::optional<std::string>> get(Column c, std::string_view key);
  std::unique_ptr<rocksdb::Iterator> iterator(Column c);
  // Every block of every live table file against its checksum
  // (DB::VerifyChecksum): EIO with RocksDB's message naming the file.
  Status verifyChecksums();

 private:
  MetaDbReader() = default;
  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, kColumnCount> handles_{};
};

}  // namespace acidfs
