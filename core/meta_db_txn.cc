// MetaDb's reads, cursors and transactions: the RocksDB side of MetaReader,
// MetaCursor and MetaTxn (core/meta_engine.h), and the pool of RocksDB
// transaction objects that MetaDb::begin draws from.
#include <rocksdb/perf_level.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include "core/format.h"
#include "core/meta_db.h"

namespace acidfs {

namespace {

rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view view(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// A point read's answer: the value, nullopt when RocksDB has none.
Result<std::optional<std::string>> found(const rocksdb::Status& s, std::string value, const char* what) {
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return fromRocks(s, what);
  return std::optional<std::string>(std::move(value));
}

class MetaDbCursor final : public MetaCursor {
 public:
  explicit MetaDbCursor(rocksdb::Iterator* it) : it_(it) {}

  void seek(std::string_view key) override { it_->Seek(slice(key)); }
  void seekToFirst() override { it_->SeekToFirst(); }
  void seekToLast() override { it_->SeekToLast(); }
  bool valid() const override { return it_->Valid(); }
  void next() override { it_->Next(); }
  std::string_view key() const override { return view(it_->key()); }
  std::string_view value() const override { return view(it_->value()); }
  // RocksDB reports a table block that fails its checksum as Corruption.
  Status status() const override {
    const rocksdb::Status s = it_->status();
    if (s.IsCorruption()) return Status::Error(EUCLEAN, s.ToString());
    return fromRocks(s, nullptr);
  }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

// The read side both MetaDb and MetaDbReader offer (MetaReader), over
// either database: the latest committed value, and a cursor over a column.
Result<std::optional<std::string>> committedValue(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                                                  std::string_view key) {
  if (!cf) return std::optional<std::string>();  // a family the store has not made yet (MetaDbReader)
  std::string value;
  rocksdb::Status s = db.Get(rocksdb::ReadOptions(), cf, slice(key), &value);
  return found(s, std::move(value), "reading metadata");
}

std::unique_ptr<MetaCursor> committedRecords(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf) {
  if (!cf) return std::make_unique<MetaDbCursor>(rocksdb::NewEmptyIterator());
  return std::make_unique<MetaDbCursor>(db.NewIterator(rocksdb::ReadOptions(), cf));
}

}  // namespace

// A RocksDB transaction from MetaDb's pool, back to it when this goes.
class MetaDbTxn final : public MetaTxn {
 public:
  MetaDbTxn(MetaDb& db, std::unique_ptr<rocksdb::Transaction> txn) : db_(db), txn_(std::move(txn)) {}
  ~MetaDbTxn() override {
    if (!ended_) rollback();
    db_.recycle(std::move(txn_));
  }

  Result<std::optional<std::string>> read(Column c, std::string_view key, Lock lock) override {
    std::string value;
    rocksdb::Status s = txn_->GetForUpdate(rocksdb::ReadOptions(), db_.cf(c), slice(key), &value,
                                           lock == Lock::kExclusive);
    return found(s, std::move(value), "locked read");
  }
  Result<std::optional<std::string>> peek(Column c, std::string_view key) override {
    std::string value;
    rocksdb::Status s = txn_->Get(rocksdb::ReadOptions(), db_.cf(c), slice(key), &value);
    return found(s, std::move(value), "read");
  }
  Status put(Column c, std::string_view key, std::string_view value) override {
    return fromRocks(txn_->Put(db_.cf(c), slice(key), slice(value)), "write");
  }
  Status del(Column c, std::string_view key) override {
    return fromRocks(txn_->Delete(db_.cf(c), slice(key)), "delete");
  }
  std::unique_ptr<MetaCursor> scan(Column c) override {
    return std::make_unique<MetaDbCursor>(txn_->GetIterator(rocksdb::ReadOptions(), db_.cf(c)));
  }
  bool deletes() const override { return txn_->GetWriteBatch()->GetWriteBatch()->HasDelete(); }

  // RocksDB cannot tell whether a failed Commit reached the log: every
  // failure is an unknown outcome.
  void appendFeed(std::string value) override { feed_.push_back(std::move(value)); }

  CommitResult commit() override {
    // The feed's number, taken now that every lock is held (feed.h); in
    // flight until the commit has ended, so no reader passes it before.
    uint64_t feedSeq = 0;
    if (!feed_.empty()) {
      Result<uint64_t> seq = db_.takeFeedSeq();
      if (!seq.ok()) return CommitResult{seq.status()};
      feedSeq = *seq;
      // Straight into the batch the commit writes: no other transaction can
      // touch a key under this number and this one never reads it back, so
      // it needs no lock and no index entry (a create would otherwise pay for
      // both on one key in four). This is what RocksDB's own Put does with
      // indexing disabled (TransactionBaseImpl::GetBatchForWrite), less the
      // lock.
      rocksdb::WriteBatch* batch = txn_->GetWriteBatch()->GetWriteBatch();
      for (size_t i = 0; i < feed_.size(); ++i) {
        const std::string key = keys::feed(feedSeq, static_cast<uint32_t>(i));
        Status put = fromRocks(batch->Put(db_.cf(Column::kFeed), slice(key), slice(feed_[i])), "write");
        if (!put.ok()) {
          db_.feedSettled(feedSeq);
          return CommitResult{put};
        }
      }
    }
    CommitResult result = commitBatch();
    if (feedSeq) db_.feedSettled(feedSeq);
    return result;
  }

  CommitResult commitBatch() {
    const uint64_t batchBytes = txn_->GetWriteBatch()->GetWriteBatch()->GetDataSize();
    CommitResult result{fromRocks(txn_->Commit(), "commit")};
    if (!result.status.ok()) {
      result.outcomeUnknown = true;
      return result;
    }
    ended_ = true;
    db_.noteCommitted(batchBytes);
    return result;
  }
  void rollback() override {
    txn_->Rollback().PermitUncheckedError();
    ended_ = true;
  }

 private:
  MetaDb& db_;
  std::unique_ptr<rocksdb::Transaction> txn_;
  std::vector<std::string> feed_;  // appendFeed's records, written at commit
  bool ended_ = false;  // committed or rolled back
};

std::unique_ptr<MetaTxn> MetaDb::begin(bool sync) {
  // RocksDB's per-thread performance counters cost a thread-local lookup in
  // every memtable and lock operation; nothing here reads them.
  thread_local bool countersOff = (rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable), true);
  (void)countersOff;
  std::unique_ptr<rocksdb::Transaction> old;
  {
    MutexLock lock(idleMutex_);
    if (!idle_.empty()) {
      old = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  rocksdb::WriteOptions writeOptions;
  writeOptions.sync = sync;
  rocksdb::TransactionOptions txnOptions;
  txnOptions.deadlock_detect = true;
  rocksdb::Transaction* raw = db_->BeginTransaction(writeOptions, txnOptions, old.get());
  if (raw == old.get()) old.release();  // reinitialised in place
  return std::make_unique<MetaDbTxn>(*this, std::unique_ptr<rocksdb::Transaction>(raw));
}

void MetaDb::recycle(std::unique_ptr<rocksdb::Transaction> txn) {
  MutexLock lock(idleMutex_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(txn));
}

Result<std::optional<std::string>> MetaDb::get(Column c, std::string_view key) { return committedValue(*db_, cf(c), key); }

std::unique_ptr<MetaCursor> MetaDb::scan(Column c) { return committedRecords(*db_, cf(c)); }

Result<std::optional<std::string>> MetaDbReader::get(Column c, std::string_view key) {
  return committedValue(*db_, handles_[static_cast<int>(c)], key);
}

std::unique_ptr<MetaCursor> MetaDbReader::scan(Column c) { return committedRecords(*db_, handles_[static_cast<int>(c)]); }

}  // namespace acidfs
