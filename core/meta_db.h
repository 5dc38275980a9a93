// The metadata database: a RocksDB TransactionDB (pessimistic locking) with
// one column family per kind of record (format.h).
//
// Why TransactionDB rather than OptimisticTransactionDB: a filesystem has hot
// keys — every create in a directory writes that directory's inode — so
// optimistic validation would turn ordinary concurrency into aborts and
// retries. Point locks taken by GetForUpdate make those writers queue instead,
// and lock absent keys too, which is what a "must not exist" check needs.
#pragma once

#include <rocksdb/utilities/transaction_db.h>

#include <array>
#include <memory>
#include <optional>
#include <string>

#include "core/format.h"
#include "core/status.h"

namespace acidfs {

// Maps a RocksDB status to ours. Lock conflicts (Busy, TimedOut, Deadlock,
// TryAgain) become kRetryErrno, which the transaction runner retries.
inline constexpr int kRetryErrno = EDEADLK;
Status fromRocks(const rocksdb::Status& s, const char* what);

class MetaDb {
 public:
  static Result<std::unique_ptr<MetaDb>> open(const std::string& dir);
  ~MetaDb();

  rocksdb::TransactionDB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(Column c) { return handles_[static_cast<int>(c)]; }

  // A read outside any transaction: the latest committed value.
  Result<std::optional<std::string>> get(Column c, std::string_view key);
  std::unique_ptr<rocksdb::Iterator> iterator(Column c);

  Status put(Column c, std::string_view key, std::string_view value, bool sync);
  Status syncWal();
  uint64_t approximateSize();

 private:
  MetaDb() = default;
  std::unique_ptr<rocksdb::TransactionDB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, kColumnCount> handles_{};
};

}  // namespace acidfs
