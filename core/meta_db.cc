#include "core/meta_db.h"

#include <algorithm>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <vector>

#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/table.h>

#include "core/encoding.h"
#include "core/format.h"
#include "core/log.h"

namespace acidfs {

Status fromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return Status::OK();
  std::string message = what ? std::string(what) + ": " + s.ToString() : s.ToString();
  if (s.IsBusy() || s.IsTimedOut() || s.IsDeadlock() || s.IsTryAgain()) return Status::Retry(std::move(message));
  if (s.IsNoSpace()) return Status::Error(ENOSPC, std::move(message));
  return Status::Error(EIO, std::move(message));
}

namespace {

// RocksDB's info log: errors to our log, instead of a LOG file in the
// database directory. Two reasons. A read-only open must change nothing, and
// creating a LOG renames the previous one. And on a full disk the LOG is a
// trap: once one of its writes fails, RocksDB 7.8 (built with assertions, as
// Debian's is) aborts the process at the next line it logs — at the next
// open, too. Its warnings stay out: what matters of them (a log that does
// not replay whole) the caller learns from the open itself.
class ForwardingLogger : public rocksdb::Logger {
 public:
  ForwardingLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::ERROR_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[1024];
    vsnprintf(line, sizeof line, format, ap);
    // One line of our log per message (RocksDB's dump version edits over many).
    std::string text(line);
    for (char& c : text)
      if (c == '\n') c = ' ';
    ACIDFS_LOG(kError, "metadata database: %s", text.c_str());
  }
};

// MetaDb::verifyChecksums and MetaDbReader::verifyChecksums, over either database.
Status verifyTableChecksums(rocksdb::DB& db) {
  return fromRocks(db.VerifyChecksum(), "verifying table file checksums");
}

// The key MetaDb::flush() deletes (it never exists) so that the flush has a
// record to write.
const char kFlushMarkKey[] = "flush_mark";

// The options of the database, shared by the read-write and the read-only
// open so that both read the same files the same way.
rocksdb::Options databaseOptions() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  options.IncreaseParallelism(2);
  options.max_open_files = 512;
  // All memtables together hold at most this much; past it the largest is
  // flushed. Per column family the default (64 MiB, and a second one while
  // it flushes) lets seven families hold close to 1 GiB: the mount bench saw
  // the daemon reach 476 MB of RSS (issue 12 asks < 200 MB).
  options.db_write_buffer_size = 32u << 20;
  // Opening is on the path of every mount and every test: no thread pool to
  // open table files, no statistics pass.
  options.max_file_opening_threads = 1;
  options.skip_stats_update_on_db_open = true;
  // With several column families and an unsynced WAL, a flush of one family
  // must never get ahead of another's: flush them atomically.
  options.atomic_flush = true;
  options.info_log = std::make_shared<ForwardingLogger>();
  return options;
}

std::vector<rocksdb::ColumnFamilyDescriptor> columnFamilies(const rocksdb::Options& options) {
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cfOptions(options);
  cfOptions.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // TransactionDB keeps flushed memtables in memory (by default two per
  // family, up to 128 MiB a family) so that a transaction with a snapshot
  // can check for write conflicts since it. Ours take no snapshots:
  // GetForUpdate's locks are the conflict check. The memtables were 142 MB
  // of the daemon's 196 MB heap peak in heaptrack (issue 12 asks < 200 MB
  // of RSS). Zero means "the default" to TransactionDB: keep one byte.
  cfOptions.max_write_buffer_size_to_maintain = 1;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (int i = 0; i < kColumnCount; ++i)
    descriptors.emplace_back(columnName(static_cast<Column>(i)), cfOptions);
  return descriptors;
}

// Learns from RocksDB when it stops taking writes after an error writing its
// files, and when it takes them again.
class WriteHealthListener : public rocksdb::EventListener {
 public:
  explicit WriteHealthListener(std::shared_ptr<MetaDb::Health> health) : health_(std::move(health)) {}

  void OnBackgroundError(rocksdb::BackgroundErrorReason reason, rocksdb::Status* error) override {
    if (error->ok() || error->severity() == rocksdb::Status::Severity::kNoError) return;
    // A compaction that found no room loses nothing: its inputs stay, and it
    // runs again later. RocksDB 7.8 would make it a fatal error under
    // TransactionDB (allow_2pc), one that only a reopen lifts; we let it pass.
    if (reason == rocksdb::BackgroundErrorReason::kCompaction && error->IsNoSpace()) {
      ACIDFS_LOG(kWarning, "metadata compaction postponed: %s", error->ToString().c_str());
      *error = rocksdb::Status::OK();
      return;
    }
    const int errnum = error->IsNoSpace() ? ENOSPC : EIO;
    if (health_->stoppedErrno.exchange(errnum) == 0)
      ACIDFS_LOG(kError, "metadata database stopped taking writes: %s", error->ToString().c_str());
  }
  // RocksDB would resume by itself once its SstFileManager sees room, every
  // few seconds; we resume (MetaDb::resume) as soon as the SpaceGuard sees
  // it, and a manual Resume() is refused while an automatic one is pending.
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status, bool* autoRecovery) override {
    *autoRecovery = false;
  }
  // Flushes are atomic (databaseOptions): one completed flush emptied them all.
  void OnFlushCompleted(rocksdb::DB*, const rocksdb::FlushJobInfo&) override { health_->unflushedBytes = 0; }
  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    if (!info.new_bg_error.ok()) return;
    if (health_->stoppedErrno.exchange(0) != 0) ACIDFS_LOG(kInfo, "metadata database takes writes again");
  }

 private:
  std::shared_ptr<MetaDb::Health> health_;
};

// ---- write-ahead logs whose first record a power cut tore ----------------------------
//
// RocksDB's log format (db/log_format.h, LevelDB's): 32 KiB blocks of
// fragments, each a 7-byte header — masked CRC32C (4), payload length (2,
// little-endian), type (1) — and its payload; a block's last bytes, when
// fewer than a header, are zeros. A record that fits is one FULL fragment,
// else FIRST, MIDDLE…, LAST, none crossing a block's end.
constexpr uint64_t kLogBlock = 32768, kLogHeader = 7;
enum LogFragment : uint8_t { kFullFragment = 1, kFirstFragment = 2, kMiddleFragment = 3, kLastFragment = 4 };

// Whether the log's first record runs past the end of the file: a write
// cut short, so the file holds no whole record. False for an empty log, a
// whole first record, and anything this does not recognise (no checksum is
// verified: the answer is yes only when the lengths say so).
bool firstRecordIsTorn(rocksdb::FSRandomAccessFile& file, uint64_t size) {
  uint64_t at = 0;
  bool inRecord = false;  // after a FIRST fragment
  for (;;) {
    const uint64_t blockLeft = kLogBlock - at % kLogBlock;
    if (blockLeft < kLogHeader) {  // the block's zero trailer
      at += blockLeft;
      continue;
    }
    if (at >= size) return inRecord;
    if (at + kLogHeader > size) return true;
    char scratch[kLogHeader];
    rocksdb::Slice header;
    if (!file.Read(at, kLogHeader, rocksdb::IOOptions(), &header, scratch, nullptr).ok() || header.size() != kLogHeader)
      return false;
    const auto* h = reinterpret_cast<const uint8_t*>(header.data());
    const uint64_t length = h[4] | (uint64_t{h[5]} << 8);
    const uint8_t type = h[6];
    const bool expected = inRecord ? (type == kMiddleFragment || type == kLastFragment)
                                   : (type == kFullFragment || type == kFirstFragment);
    if (!expected || kLogHeader + length > blockLeft) return false;  // not a log start we know
    if (at + kLogHeader + length > size) return true;
    if (type == kFullFragment || type == kLastFragment) return false;  // a whole record
    inRecord = true;
    at += kLogHeader + length;
  }
}

// Empties every log of `dir` whose first record a power cut tore. Such a log
// holds no whole record, so no recovery can take anything from it; but
// RocksDB (7.8 as today) reads the torn record as corruption, and when that
// is all a log holds it recovers "to no sequence number" and writes the
// new MANIFEST, which moves the column families past the log, without first
// syncing a record into the new log that would show the corruption benign.
// A power cut then (while the store opens) leaves a store RocksDB will not
// open again: "SST file is ahead of WALs" (tests/power_cut_test.cc). An
// empty log is no corruption.
void emptyTornLogs(rocksdb::FileSystem& fs, const std::string& dir) {
  std::vector<std::string> names;
  if (!fs.GetChildren(dir, rocksdb::IOOptions(), &names, nullptr).ok()) return;
  for (const std::string& name : names) {
    if (name.size() <= 4 || name.compare(name.size() - 4, 4, ".log") != 0 ||
        name.find_first_not_of("0123456789") != name.size() - 4)
      continue;
    const std::string path = dir + "/" + name;
    uint64_t size = 0;
    std::unique_ptr<rocksdb::FSRandomAccessFile> file;
    if (!fs.GetFileSize(path, rocksdb::IOOptions(), &size, nullptr).ok() || size == 0 ||
        !fs.NewRandomAccessFile(path, rocksdb::FileOptions(), &file, nullptr).ok() || !firstRecordIsTorn(*file, size))
      continue;
    file.reset();
    std::unique_ptr<rocksdb::FSWritableFile> log;
    rocksdb::IOStatus emptied = fs.ReopenWritableFile(path, rocksdb::FileOptions(), &log, nullptr);
    if (emptied.ok()) emptied = log->Truncate(0, rocksdb::IOOptions(), nullptr);
    if (emptied.ok()) emptied = log->Sync(rocksdb::IOOptions(), nullptr);
    if (log) log->Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
    if (emptied.ok())
      ACIDFS_LOG(kWarning, "%s: its first record was cut short by a crash; emptied it (it held no whole record)",
                 path.c_str());
    else
      ACIDFS_LOG(kWarning, "%s: emptying a log cut short failed: %s", path.c_str(), emptied.ToString().c_str());
  }
}

}  // namespace

Result<std::unique_ptr<MetaDb>> MetaDb::open(const std::string& dir,
                                             std::shared_ptr<rocksdb::FileSystem> fileSystem, bool dropAfterDamage) {
  std::unique_ptr<MetaDb> meta(new MetaDb());
  rocksdb::Options options = databaseOptions();
  if (fileSystem) {
    meta->env_ = rocksdb::NewCompositeEnv(fileSystem);
    options.env = meta->env_.get();
  }
  if (!dropAfterDamage) options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  options.listeners.push_back(std::make_shared<WriteHealthListener>(meta->health_));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = columnFamilies(options);

  rocksdb::TransactionDBOptions txnOptions;
  txnOptions.transaction_lock_timeout = 2000;

  // RocksDB would create it too, logging an error that it was missing.
  rocksdb::FileSystem& files = *options.env->GetFileSystem();
  rocksdb::IOStatus made = files.CreateDirIfMissing(dir, rocksdb::IOOptions(), nullptr);
  if (!made.ok()) return fromRocks(made, ("creating " + dir).c_str());
  emptyTornLogs(files, dir);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::TransactionDB* raw = nullptr;
  rocksdb::Status s = rocksdb::TransactionDB::Open(options, txnOptions, dir, descriptors, &handles, &raw);
  if (s.IsCorruption())
    return Status::Error(EUCLEAN, "the metadata database is damaged (" + s.ToString() +
                                      "); `acidfs fsck` reports what, `acidfs fsck --repair` keeps what precedes the damage");
  if (!s.ok()) return fromRocks(s, "opening metadata database");
  meta->db_.reset(raw);
  for (int i = 0; i < kColumnCount; ++i) meta->handles_[i] = handles[i];
  return meta;
}

MetaDb::~MetaDb() {
  if (!db_) return;
  {
    MutexLock lock(idleMutex_);
    idle_.clear();  // transactions of db_: gone before it closes
  }
  // A database that stopped taking writes is closed as it is: its log is
  // not to be touched (writesStopped()), and what it holds is replayed from
  // that log at the next open.
  if (Status resumed = resume(); !resumed.ok())
    ACIDFS_LOG(kWarning, "closing metadata that stopped taking writes: %s", resumed.toString().c_str());
  // Flush before closing. TransactionDB runs with allow_2pc, under which a
  // write-ahead log is deleted only once a flush has recorded that nothing
  // needs it, and the flush RocksDB makes of the logs it replays at open
  // does not record that. A store of little data never fills a memtable, so
  // without this every open left one more log behind and every later open
  // replayed them all (tests/store_restart_test.cc). The flush writes the
  // tables the next open's replay would have written.
  Status flushed = flush();
  if (!flushed.ok()) ACIDFS_LOG(kWarning, "flushing metadata at close: %s", flushed.toString().c_str());
  for (auto* h : handles_)
    if (h) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

Status MetaDb::put(Column c, std::string_view key, std::string_view value, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return fromRocks(db_->Put(wo, cf(c), rocksdb::Slice(key.data(), key.size()),
                            rocksdb::Slice(value.data(), value.size())),
                   "writing metadata");
}

Result<uint64_t> MetaDb::allocate(const std::string& name, uint64_t count, uint64_t floor) {
  MutexLock lock(countersMutex_);
  uint64_t& next = counters_[name];
  const uint64_t first = std::max(next, floor);
  next = first + count;
  return first;
}

Result<uint64_t> MetaDb::nextVersion() {
  MutexLock lock(versionMutex_);
  if (nextVersion_ == 0) {
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> mark, get(Column::kDefault, kVersionMarkKey));
    uint64_t stored = 1;
    if (mark) {
      Decoder d(*mark);
      if (!d.u64(stored) || !d.done()) return Status::Error(EIO, "store corrupted: undecodable version_mark");
    }
    nextVersion_ = versionMark_ = std::max<uint64_t>(stored, 1);
  }
  if (nextVersion_ == versionMark_) {
    const uint64_t mark = versionMark_ + kVersionBatch;
    ACIDFS_RETURN_IF_ERROR(put(Column::kDefault, kVersionMarkKey, Encoder().u64(mark).take(), /*sync=*/true)
                               .withContext("storing the content version mark"));
    versionMark_ = mark;
  }
  return nextVersion_++;
}

Status MetaDb::loadFeedSeq() {
  if (nextFeedSeq_) return Status::OK();
  std::unique_ptr<MetaCursor> it = scan(Column::kFeed);
  it->seekToLast();
  ACIDFS_RETURN_IF_ERROR(it->status().withContext("reading the change feed's last record"));
  nextFeedSeq_ = it->valid() && it->key().size() >= 8 ? readBigEndian64(it->key().substr(0, 8)) + 1 : 1;
  feedVisibleBelow_ = nextFeedSeq_;
  return Status::OK();
}

Result<uint64_t> MetaDb::takeFeedSeq() {
  MutexLock lock(feedMutex_);
  ACIDFS_RETURN_IF_ERROR(loadFeedSeq());
  feedSettled_.push_back(false);
  return nextFeedSeq_++;
}

void MetaDb::feedSettled(uint64_t seq) {
  MutexLock lock(feedMutex_);
  feedSettled_[seq - feedVisibleBelow_] = true;
  while (!feedSettled_.empty() && feedSettled_.front()) {
    feedSettled_.pop_front();
    ++feedVisibleBelow_;
  }
}

Result<std::vector<FeedEntry>> MetaDb::readFeed(uint64_t from, size_t max) {
  uint64_t below = 0;
  {
    MutexLock lock(feedMutex_);
    ACIDFS_RETURN_IF_ERROR(loadFeedSeq());
    below = feedVisibleBelow_;
  }
  std::vector<FeedEntry> out;
  std::string start;
  appendBigEndian64(start, from);
  std::unique_ptr<MetaCursor> it = scan(Column::kFeed);
  for (it->seek(start); it->valid(); it->next()) {
    const std::string_view key = it->key();
    if (key.size() != keys::kFeedKeySize) return Status::Error(EIO, "store corrupted: a change feed key of " + std::to_string(key.size()) + " bytes");
    const uint64_t seq = keys::feedSeq(key);
    if (seq >= below) break;
    if (out.size() >= max && seq != out.back().seq) break;  // never split a transaction's records
    out.push_back(FeedEntry{seq, keys::feedIndex(key), MetaCursor::copyOut(it->value())});
  }
  ACIDFS_RETURN_IF_ERROR(it->status().withContext("reading the change feed"));
  return out;
}

Result<uint64_t> MetaDb::feedEnd() {
  MutexLock lock(feedMutex_);
  ACIDFS_RETURN_IF_ERROR(loadFeedSeq());
  return feedVisibleBelow_;
}

Status MetaDb::trimFeed(uint64_t before) {
  // Outside any transaction: nothing else writes these keys (each was
  // written once, by its commit) or reads them under a lock.
  rocksdb::WriteBatch batch;
  std::unique_ptr<MetaCursor> it = scan(Column::kFeed);
  for (it->seekToFirst(); it->valid(); it->next()) {
    const std::string_view key = it->key();
    if (key.size() < 8 || readBigEndian64(key.substr(0, 8)) >= before) break;
    batch.Delete(cf(Column::kFeed), rocksdb::Slice(key.data(), key.size()));
  }
  ACIDFS_RETURN_IF_ERROR(it->status().withContext("trimming the change feed"));
  if (batch.Count() == 0) return Status::OK();
  return fromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "trimming the change feed");
}

Status MetaDb::stoppedError(const char* what) const {
  const int errnum = writesStopped();
  return Status::Error(errnum, std::string(what) + ": the metadata database stopped taking writes after " +
                                   (errnum == ENOSPC ? "running out of space" : "an I/O error"));
}

Status MetaDb::syncLog() {
  if (writesStopped() != 0) return stoppedError("syncing the write-ahead log");
  ACIDFS_RETURN_IF_ERROR(fromRocks(db_->FlushWAL(true), "syncing the write-ahead log"));
  return Status::OK();
}

Status MetaDb::resume() {
  if (writesStopped() == 0) return Status::OK();
  // TransactionDB (a StackableDB) does not pass Resume() on: ask the DB under it.
  rocksdb::Status s = db_->GetRootDB()->Resume();
  if (!s.ok()) {
    // Busy: RocksDB is resuming by itself. Either way still stopped: not a
    // lock conflict to retry (fromRocks's reading of Busy).
    return Status::Error(writesStopped() != 0 ? writesStopped() : EIO, "resuming metadata writes: " + s.ToString());
  }
  health_->stoppedErrno.store(0);  // RocksDB's listener call says so too; a Resume with nothing to clear does not
  return Status::OK();
}

Status MetaDb::flush() {
  if (writesStopped() != 0) return stoppedError("flushing metadata");
  // Under TransactionDB's two-phase commit, the MANIFEST's record of which
  // write-ahead logs an open must replay (min_log_number_to_keep) moves
  // only with a flush that has something to flush — not with RocksDB's own
  // flush at open of what it replayed, which does move the column families
  // past those logs. So a log a power cut tore stayed behind, was replayed
  // at every open and reported damaged by every fsck, until a memtable
  // filled (and, when its first record was the torn one, made the next open
  // fail: see emptyTornLogs). tests/power_cut_test.cc found it. A tombstone
  // of a key nobody uses gives every flush something to write.
  rocksdb::Status s = db_->Delete(rocksdb::WriteOptions(), cf(Column::kDefault), kFlushMarkKey);
  if (!s.ok()) return fromRocks(s, "flushing metadata");
  return flushAll();
}

Status MetaDb::flushAll() {
  std::vector<rocksdb::ColumnFamilyHandle*> all(handles_.begin(), handles_.end());
  return fromRocks(db_->Flush(rocksdb::FlushOptions(), all), "flushing metadata");
}

Status MetaDb::compact() {
  ACIDFS_RETURN_IF_ERROR(flushAll());
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (auto* h : handles_)
    ACIDFS_RETURN_IF_ERROR(fromRocks(db_->CompactRange(compact, h, nullptr, nullptr), "compacting metadata"));
  return Status::OK();
}

Status MetaDb::verifyChecksums() { return verifyTableChecksums(*db_); }

// ---- read-only -------------------------------------------------------------

Result<std::unique_ptr<MetaDbReader>> MetaDbReader::open(const std::string& dir, WalRecovery recovery) {
  rocksdb::Options options = databaseOptions();
  options.create_if_missing = false;
  options.create_missing_column_families = false;
  // As TransactionDB::Open sets it, so that the log is replayed as the
  // read-write open replays it.
  options.allow_2pc = true;
  switch (recovery) {
    case WalRecovery::kStrict: options.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency; break;
    case WalRecovery::kTornTail: options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords; break;
    case WalRecovery::kPointInTime: options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery; break;
  }
  // A store written by an older version may lack families added since
  // (trash): a read-only open cannot make them, so it reads them as empty.
  std::vector<std::string> existing;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(options, dir, &existing);
  if (listed.IsCorruption()) return Status::Error(EUCLEAN, "opening metadata database read-only: " + listed.ToString());
  if (!listed.ok()) return fromRocks(listed, "opening metadata database read-only");
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  std::vector<int> columnOfHandle;
  for (int i = 0; i < kColumnCount; ++i) {
    rocksdb::ColumnFamilyDescriptor d = columnFamilies(options)[static_cast<size_t>(i)];
    if (std::find(existing.begin(), existing.end(), d.name) == existing.end()) continue;
    descriptors.push_back(std::move(d));
    columnOfHandle.push_back(i);
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(options, dir, descriptors, &handles, &raw);
  if (s.IsCorruption()) return Status::Error(EUCLEAN, "opening metadata database read-only: " + s.ToString());
  if (!s.ok()) return fromRocks(s, "opening metadata database read-only");
  std::unique_ptr<MetaDbReader> reader(new MetaDbReader());
  reader->db_.reset(raw);
  for (size_t h = 0; h < handles.size(); ++h) reader->handles_[columnOfHandle[h]] = handles[h];
  return reader;
}

MetaDbReader::~MetaDbReader() {
  if (!db_) return;
  for (auto* h : handles_)
    if (h) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

Status MetaDbReader::verifyChecksums() { return verifyTableChecksums(*db_); }

}  // namespace acidfs
